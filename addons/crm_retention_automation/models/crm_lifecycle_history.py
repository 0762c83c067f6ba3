import logging

from odoo import api, models
from odoo.addons.base_automation.models.base_automation import CREATE_TRIGGERS

_logger = logging.getLogger(__name__)


class CrmLifecycleHistory(models.Model):
    _inherit = "crm.lifecycle.history"

    @api.model
    def _after_bulk_create(self, history):
        """Run the automation rules "On creation" (and "On save") of
        ``crm.lifecycle.history`` on the stage changes the engine wrote in
        SQL, as Odoo runs them after an ORM ``create``: each rule on the
        rows that match its domain, once.

        Each rule runs in a savepoint: a rule that fails (a bad domain, an
        action that raises) is logged and undone alone; the batch, its
        history and the other rules stand, and the recompute goes on."""
        super()._after_bulk_create(history)
        if not history:
            return
        Automation = self.env["base.automation"]
        automations = Automation._get_actions(history, CREATE_TRIGGERS)
        for automation in automations.with_context(old_values=None):
            try:
                with self.env.cr.savepoint():
                    automation._process(automation._filter_post(history, feedback=True))
            except Exception:
                _logger.exception(
                    "Automation rule %r (#%s) failed on %s stage change(s); they are kept "
                    "and the other rules ran",
                    automation.sudo().name,
                    automation.id,
                    len(history),
                )
