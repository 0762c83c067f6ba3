import json

from odoo import api, fields, models
from odoo.tools import SQL

HISTORY_REASONS = [
    ("rule", "Stage rule"),
    ("manual", "Manual change"),
    ("campaign", "Campaign"),
    ("merge", "Partner merge"),
    ("import", "Import"),
]


class CrmLifecycleHistory(models.Model):
    """Every stage change of a customer profile, never rewritten.

    Written in bulk by the recompute (one INSERT per batch) and by manual
    changes. ``duration_days`` is the time the customer had spent in
    ``from_stage_id`` when it left it, so "time spent in each stage" is a
    plain average over history rows (group by from stage).
    """

    _name = "crm.lifecycle.history"
    _description = "Customer Lifecycle History"
    _order = "date desc, id desc"
    _rec_name = "stage_id"
    _check_company_auto = True

    profile_id = fields.Many2one(
        "crm.customer.profile", required=True, index=True, ondelete="cascade", check_company=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, index=True, ondelete="cascade")
    from_stage_id = fields.Many2one("crm.lifecycle.stage", string="From Stage", ondelete="restrict")
    stage_id = fields.Many2one(
        "crm.lifecycle.stage", string="To Stage", required=True, index=True, ondelete="restrict"
    )
    stage_kind = fields.Selection(related="stage_id.kind", string="To Stage Kind")
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    reason = fields.Selection(HISTORY_REASONS, required=True, default="rule")
    user_id = fields.Many2one("res.users", string="Changed By", default=lambda self: self.env.user)
    duration_days = fields.Float(string="Days in Previous Stage", digits=(16, 1), aggregator="avg")
    note = fields.Char()

    @api.model_create_multi
    def create(self, vals_list):
        profiles = self.env["crm.customer.profile"].browse(
            [v["profile_id"] for v in vals_list if v.get("profile_id")]
        )
        by_id = {p.id: p for p in profiles}
        for vals in vals_list:
            profile = by_id.get(vals.get("profile_id"))
            if profile:
                vals.setdefault("partner_id", profile.partner_id.id)
                vals.setdefault("company_id", profile.company_id.id)
        return super().create(vals_list)

    def _post_partner_messages(self):
        """Post a tracking note on each customer's chatter, in bulk.

        One INSERT ... SELECT for the whole batch, bodies built in SQL, rather
        than ``message_post`` per partner: a first recompute changes every
        customer's stage at once.
        """
        if not self:
            return
        self.env.flush_all()
        self.env.cr.execute(
            self._partner_message_sql(
                SQL(
                    "(SELECT partner_id, from_stage_id, stage_id, reason, date "
                    "FROM crm_lifecycle_history WHERE id = ANY(%s))",
                    self.ids,
                )
            )
        )
        self.env["mail.message"].invalidate_model()
        self.env["res.partner"].invalidate_model(["message_ids"])

    @api.model
    def _partner_message_sql(self, source):
        """INSERT of one chatter note per ``source`` row (partner_id,
        from_stage_id, stage_id, reason, date), e.g. the history rows a
        recompute batch inserts, as a CTE of the same statement."""
        lang = self.env.lang or "en_US"
        reasons = dict(self._fields["reason"]._description_selection(self.env))

        def esc(column):
            return SQL(
                "replace(replace(replace(%s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')", column
            )

        def stage_name(alias):
            return esc(
                SQL("COALESCE(%s.name->>%s, %s.name->>'en_US')", SQL(alias), lang, SQL(alias))
            )

        return SQL(
            """
            INSERT INTO mail_message (model, res_id, body, message_type, subtype_id,
                   author_id, date, create_uid, create_date, write_uid, write_date)
            SELECT 'res.partner', h.partner_id,
                   '<p><span class="o_crm_lifecycle_change">' || %(label)s || '</span> '
                   || COALESCE(%(from_name)s, %(none)s) || ' &#8594; ' || %(to_name)s
                   || ' <small>(' || COALESCE((%(reasons)s::jsonb)->>h.reason, h.reason)
                   || ')</small></p>',
                   'notification', %(subtype)s, %(author)s, h.date,
                   %(uid)s, h.date, %(uid)s, h.date
              FROM %(source)s h
              JOIN crm_lifecycle_stage ts ON ts.id = h.stage_id
              LEFT JOIN crm_lifecycle_stage fs ON fs.id = h.from_stage_id
             WHERE h.partner_id IS NOT NULL
            """,
            label=self.env._("Lifecycle stage:"),
            from_name=stage_name("fs"),
            to_name=stage_name("ts"),
            none=self.env._("none"),
            reasons=json.dumps(reasons),
            subtype=self.env.ref("mail.mt_note").id,
            author=self.env.ref("base.partner_root").id,
            uid=self.env.uid,
            source=source,
        )
