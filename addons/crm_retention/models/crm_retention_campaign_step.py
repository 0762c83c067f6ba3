from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib.campaign import MAX_DAYS

STEP_ACTIONS = [
    ("email", "E-mail"),
    ("sms", "SMS"),
    ("activity", "Activity"),
]

STEP_CONDITIONS = [
    ("always", "Always"),
    ("no_response", "Only if no response yet"),
    ("responded", "Only if the customer responded"),
]


class CrmRetentionCampaignStep(models.Model):
    """One action of a campaign's sequence.

    A treated member walks the steps in ``sequence`` order: a step is due
    ``delay_days`` after the previous one (after enrolment for the first).
    When its condition does not hold the step is logged as skipped and the
    member moves on, so the chain never stalls.
    """

    _name = "crm.retention.campaign.step"
    _description = "Retention Campaign Step"
    _order = "campaign_id, sequence, id"
    _check_company_auto = True

    campaign_id = fields.Many2one(
        "crm.retention.campaign", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True, index=True)
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    delay_days = fields.Integer(
        string="Delay (days)",
        help="Days after the previous step (after enrolment for the first step).",
    )
    condition = fields.Selection(STEP_CONDITIONS, required=True, default="always")
    action = fields.Selection(STEP_ACTIONS, required=True, default="email")
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        domain="[('model', '=', 'crm.retention.campaign.member')]",
        ondelete="set null",
    )
    sms_template_id = fields.Many2one(
        "sms.template",
        string="SMS Template",
        domain="[('model', '=', 'crm.retention.campaign.member')]",
        ondelete="set null",
    )
    activity_type_id = fields.Many2one("mail.activity.type", ondelete="set null")
    activity_user = fields.Selection(
        [("salesperson", "Customer's salesperson"), ("owner", "Campaign owner")],
        string="Assign To",
        default="salesperson",
        help="The customer's salesperson, or the campaign owner when the customer has none.",
    )
    activity_summary = fields.Char()
    note = fields.Html(help="Instructions for the person who calls or meets the customer.")
    execution_count = fields.Integer(compute="_compute_execution_count", string="Executed")

    _sql_constraints = [
        (
            "delay_positive",
            f"CHECK(delay_days >= 0 AND delay_days <= {MAX_DAYS})",
            "A step is due between 0 days and ten years after the previous one.",
        ),
    ]

    def _compute_display_name(self):
        for step in self:
            step.display_name = f"{step.sequence}. {step.name}" if step.name else ""

    def _compute_execution_count(self):
        counts = dict(
            self.env["crm.retention.campaign.step.execution"]._read_group(
                [("step_id", "in", self.ids), ("state", "=", "done")], ["step_id"], ["__count"]
            )
        )
        for step in self:
            step.execution_count = counts.get(step, 0)

    @api.constrains("delay_days")
    def _check_delay(self):
        for step in self:
            problems = step._get_setting_problems()
            if problems:
                raise ValidationError("\n".join(problems))

    @api.constrains("action", "activity_type_id")
    def _check_action_settings(self):
        for step in self:
            if step.action == "activity" and not step.activity_type_id:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s creates an activity: choose its type.", step=step.name
                    )
                )

    def _get_setting_problems(self):
        """Messages for out-of-bound numbers of this step (see the campaign's
        ``_get_setting_problems``)."""
        self.ensure_one()
        if self.delay_days is None or not 0 <= self.delay_days <= MAX_DAYS:
            return [
                self.env._(
                    "Step %(step)s must be due between 0 and %(max)s days after the previous one.",
                    step=self.name,
                    max=MAX_DAYS,
                )
            ]
        return []

    def _next_step(self):
        """The step after this one in its campaign (empty for the last)."""
        self.ensure_one()
        steps = self.campaign_id.step_ids.sorted(lambda s: (s.sequence, s.id))
        index = list(steps).index(self)
        return steps[index + 1 : index + 2]
