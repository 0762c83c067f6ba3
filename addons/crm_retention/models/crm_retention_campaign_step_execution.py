from odoo import fields, models
from odoo.tools import SQL

from .crm_retention_campaign_step import STEP_ACTIONS


class CrmRetentionCampaignStepExecution(models.Model):
    """The log of what each step did to each member, at most one row per
    (member, step).

    The unique key is what makes step execution idempotent: the cron first
    claims the rows of a batch (``_claim``), then runs only the claimed
    members. It also gives the results by step and by channel.
    """

    _name = "crm.retention.campaign.step.execution"
    _description = "Retention Campaign Step Execution"
    _order = "date desc, id desc"
    _check_company_auto = True

    member_id = fields.Many2one(
        "crm.retention.campaign.member", required=True, ondelete="cascade", index=True
    )
    step_id = fields.Many2one(
        "crm.retention.campaign.step", required=True, ondelete="cascade", index=True
    )
    campaign_id = fields.Many2one(
        "crm.retention.campaign", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    partner_id = fields.Many2one(related="member_id.partner_id", string="Customer")
    channel = fields.Selection(STEP_ACTIONS, required=True)
    date = fields.Date(required=True)
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("done", "Done"),
            ("skipped", "Skipped"),
            ("failed", "Failed"),
        ],
        required=True,
        default="pending",
    )
    reason = fields.Char()
    mail_id = fields.Many2one("mail.mail", string="E-mail", ondelete="set null")
    mail_state = fields.Selection(related="mail_id.state", string="E-mail Status")
    sms_id = fields.Many2one("sms.sms", string="SMS", ondelete="set null")
    activity_id = fields.Many2one("mail.activity", ondelete="set null")
    # the member's outcome, copied by the outcome refresh (one UPDATE with
    # the members'), so results by step and channel are one read_group
    member_retained = fields.Integer()
    member_revenue = fields.Monetary(currency_field="currency_id")
    currency_id = fields.Many2one(related="company_id.currency_id")

    _sql_constraints = [
        (
            "member_step_uniq",
            "UNIQUE(member_id, step_id)",
            "A campaign step runs at most once per member.",
        ),
    ]

    def _claim(self, members, step, today):
        """Insert a pending row per member for ``step`` and return the ids of
        the members it was inserted for (rows that already exist belong to
        an earlier or concurrent run: those members are not run again)."""
        if not members:
            return []
        members.flush_model()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_retention_campaign_step_execution
                       (member_id, step_id, campaign_id, company_id, channel, date, state,
                        create_uid, create_date, write_uid, write_date)
                SELECT m.id, %(step)s, m.campaign_id, m.company_id, %(channel)s, %(today)s,
                       'pending', %(uid)s, now() at time zone 'UTC', %(uid)s,
                       now() at time zone 'UTC'
                  FROM crm_retention_campaign_member m
                 WHERE m.id = ANY(%(ids)s)
                ON CONFLICT (member_id, step_id) DO NOTHING
                RETURNING member_id
                """,
                step=step.id,
                channel=step.action,
                today=today,
                uid=self.env.uid,
                ids=members.ids,
            )
        )
        claimed = [row[0] for row in self.env.cr.fetchall()]
        # rows inserted in SQL: the members' cached logs are stale
        members.invalidate_recordset(["execution_ids"])
        return claimed
