from markupsafe import Markup

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

    def _sync_partner_stage_sql(self):
        """Mirror the new stage into ``res.partner.lifecycle_stage_id`` (a
        company-dependent jsonb column) for every changed customer at once."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner rp
                   SET lifecycle_stage_id = COALESCE(rp.lifecycle_stage_id, '{}'::jsonb)
                       || jsonb_build_object(h.company_id::text, h.stage_id)
                  FROM crm_lifecycle_history h
                 WHERE h.id = ANY(%s) AND rp.id = h.partner_id
                """,
                self.ids,
            )
        )
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id"])

    def _post_partner_messages(self):
        """Post a tracking note on each customer's chatter, in bulk.

        One INSERT for the whole batch rather than ``message_post`` per
        partner: a first recompute changes every customer's stage at once.
        """
        if not self:
            return
        self.env.flush_all()
        note = self.env.ref("mail.mt_note")
        author = self.env.ref("base.partner_root")
        reasons = dict(self._fields["reason"]._description_selection(self.env))
        template = Markup(
            '<p><span class="o_crm_lifecycle_change">%s</span> %s &#8594; %s '
            "<small>(%s)</small></p>"
        )
        rows = []
        for h in self.sudo():
            body = template % (
                self.env._("Lifecycle stage:"),
                h.from_stage_id.name or self.env._("none"),
                h.stage_id.name,
                reasons.get(h.reason, h.reason),
            )
            rows.append((h.partner_id.id, str(body), h.date))
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO mail_message (model, res_id, body, message_type, subtype_id,
                       author_id, date, create_uid, create_date, write_uid, write_date)
                SELECT 'res.partner', t.res_id, t.body, 'notification', %(subtype)s,
                       %(author)s, t.date, %(uid)s, t.date, %(uid)s, t.date
                  FROM unnest(%(res_ids)s::int[], %(bodies)s::text[], %(dates)s::timestamp[])
                       AS t(res_id, body, date)
                """,
                subtype=note.id,
                author=author.id,
                uid=self.env.uid,
                res_ids=[r[0] for r in rows],
                bodies=[r[1] for r in rows],
                dates=[r[2] for r in rows],
            )
        )
        self.env["mail.message"].invalidate_model()
