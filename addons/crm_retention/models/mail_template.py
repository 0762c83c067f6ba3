import ast

from markupsafe import Markup

from odoo import models
from odoo.addons.base.models import ir_mail_server

from ..lib.unsubscribe import unsubscribe_headers

# Python's e-mail policy folds a header longer than 78 characters, and a URL
# has no space to fold at: it would go out as RFC 2047 encoded-words
# ("=?utf-8?q?=3Chttps=3A//..."), which RFC 2369 does not allow in
# List-Unsubscribe and which mailbox providers do not decode there, so their
# unsubscribe button would not appear. Odoo leaves its identification
# headers unfolded for the same reason; List-Unsubscribe joins them (a line
# of up to 998 characters is valid, RFC 5322 2.1.1). Process-wide, harmless
# for other databases: only this header's folding changes.
ir_mail_server.RFC5322_IDENTIFICATION_HEADERS.add("list-unsubscribe")

MEMBER_MODEL = "crm.retention.campaign.member"
# context key: add the List-Unsubscribe headers to the rendered values
HEADERS_FLAG = "crm_retention_unsubscribe_headers"


class MailTemplate(models.Model):
    """Every e-mail rendered for a campaign member carries its customer's
    unsubscribe link (a footer under the body, whatever the template says,
    so an edited or new template cannot lose it) and, when it is queued
    (``send_mail_batch``, which the step runner uses), the RFC 2369 / 8058
    ``List-Unsubscribe`` headers for the mail clients' own button.
    """

    _inherit = "mail.template"

    def send_mail_batch(
        self, res_ids, force_send=False, raise_exception=False, email_values=None,
        email_layout_xmlid=False,
    ):  # fmt: skip
        if self.model == MEMBER_MODEL and not self.env.context.get(HEADERS_FLAG):
            # the rendered values go straight to mail.mail: headers are welcome
            return self.with_context(**{HEADERS_FLAG: True}).send_mail_batch(
                res_ids, force_send, raise_exception, email_values, email_layout_xmlid
            )
        return super().send_mail_batch(
            res_ids, force_send, raise_exception, email_values, email_layout_xmlid
        )

    def _generate_template(self, res_ids, render_fields, find_or_create_partners=False):
        results = super()._generate_template(
            res_ids, render_fields, find_or_create_partners=find_or_create_partners
        )
        if self.model == MEMBER_MODEL and "body_html" in render_fields:
            self._add_retention_unsubscribe(results)
        return results

    def _add_retention_unsubscribe(self, results):
        """Append the unsubscribe footer to the rendered bodies of
        ``results`` ``{member id: values}`` and add the headers when asked."""
        add_retention_unsubscribe(
            self.env, results, footer=True, headers=self.env.context.get(HEADERS_FLAG)
        )


def add_retention_unsubscribe(env, results, footer=True, headers=False):
    """Give the campaign e-mails ``results`` ``{member id: values}`` their
    customers' unsubscribe link: a footer appended to ``body_html`` and/or
    the ``List-Unsubscribe`` headers merged into ``headers`` (a repr'd dict,
    as mail.mail stores it). A body that already holds the link keeps its
    single footer.

    Set-based: the members and partners are read for the whole batch;
    per recipient only the HMAC and a small footer in the customer's
    language are computed.
    """
    members = env[MEMBER_MODEL].sudo().browse(list(results))
    QWeb = env["ir.qweb"]
    for member in members:
        partner = member.partner_id
        values = results[member.id]
        if not partner.email_normalized:
            continue  # nobody to unsubscribe: the runner flags the step
        url = partner._retention_unsubscribe_url()
        if footer and url not in (values.get("body_html") or ""):
            rendered = QWeb.with_context(lang=partner.lang or None)._render(
                "crm_retention.mail_unsubscribe_footer",
                {"unsubscribe_url": url, "company": member.company_id},
                minimal_qcontext=True,
            )
            # the body is the template's rendering, already safe HTML
            values["body_html"] = Markup(values.get("body_html") or "") + rendered
        if headers:
            merged = ast.literal_eval(values["headers"]) if values.get("headers") else {}
            merged.update(unsubscribe_headers(url))
            values["headers"] = repr(merged)
