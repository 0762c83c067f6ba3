from odoo import models

from ..models.mail_template import MEMBER_MODEL, add_retention_unsubscribe


class MailComposeMessage(models.TransientModel):
    """A campaign e-mail written in the composer in mass mode (select
    members in the list, Action > Send e-mail) carries the same unsubscribe
    link as the ones the step runner sends: the footer under the body (the
    composer renders its own body, not the template's ``body_html``) and the
    ``List-Unsubscribe`` headers.

    Only in mass mode: a message posted in a member's chatter goes to the
    record's followers, the salespeople, whose "Unsubscribe" button must not
    opt the customer out.
    """

    _inherit = "mail.compose.message"

    def _prepare_mail_values_dynamic(self, res_ids):
        results = super()._prepare_mail_values_dynamic(res_ids)
        if self.model == MEMBER_MODEL and self.composition_mode == "mass_mail":
            add_retention_unsubscribe(self.env, results, footer=True, headers=True)
        return results
