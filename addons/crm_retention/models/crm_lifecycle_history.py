from odoo import api, fields, models
from odoo.tools import SQL

HISTORY_REASONS = [
    ("rule", "Stage rule"),
    ("manual", "Manual change"),
    ("campaign", "Campaign"),
    ("merge", "Partner merge"),
    ("import", "Import"),
    ("rebuild", "Rebuilt from purchases"),
    ("redefinition", "Stage rules changed"),
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
        """Post the stage change of each row on its customer's chatter, in bulk.

        One statement for the whole batch rather than ``message_post`` per
        partner: a first recompute changes every customer's stage at once.
        """
        if not self:
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "WITH %s SELECT 1",
                self._partner_message_sql(
                    SQL(
                        "(SELECT id, partner_id, from_stage_id, stage_id, reason, date, user_id "
                        "FROM crm_lifecycle_history WHERE id = ANY(%s))",
                        self.ids,
                    )
                ),
            )
        )
        self.env["mail.message"].invalidate_model()
        self.env["res.partner"].invalidate_model(["message_ids"])

    @api.model
    def _partner_message_sql(self, source):
        """Two data-modifying CTEs (``lifecycle_messages``,
        ``lifecycle_trackings``) writing one chatter message per ``source`` row
        (id, partner_id, from_stage_id, stage_id, reason, date, user_id: the
        history rows a recompute batch inserts, or a relation of them).

        The message is what the chatter writes when a tracked field changes:
        no body, a tracking value of the partner's "Lifecycle Stage" from the
        old to the new stage (ids), so the chatter and the Stage History show
        the same rows, and the stage names are shown in the reader's language
        (see ``mail.tracking.value._tracking_value_format_model``), followed
        by why it changed unless a stage rule did it (a manager, a campaign,
        a merge: the ``reason`` in the tracking's ``field_info``). A manual
        change is authored by the user who made it, the rules by OdooBot.
        Each message carries the history row in its Message-Id, which ties the
        tracking value to it within the statement.
        """
        field = self.env["ir.model.fields"]._get("res.partner", "lifecycle_stage_id")
        return SQL(
            """
            lifecycle_messages AS (
                INSERT INTO mail_message (model, res_id, body, message_type, subtype_id,
                       author_id, message_id, date, create_uid, create_date, write_uid,
                       write_date)
                SELECT 'res.partner', h.partner_id, '', 'notification', %(subtype)s,
                       CASE WHEN h.reason = 'manual' THEN COALESCE(u.partner_id, %(bot)s)
                            ELSE %(bot)s END,
                       'crm-lifecycle-history-' || h.id || '@odoo', h.date,
                       %(uid)s, h.date, %(uid)s, h.date
                  FROM %(source)s h
                  LEFT JOIN res_users u ON u.id = h.user_id
                 WHERE h.partner_id IS NOT NULL
             RETURNING id, message_id
            ),
            lifecycle_trackings AS (
                INSERT INTO mail_tracking_value (mail_message_id, field_id, field_info,
                       old_value_integer, new_value_integer, old_value_char, new_value_char,
                       create_uid, create_date, write_uid, write_date)
                SELECT m.id, %(field)s,
                       jsonb_build_object('name', 'lifecycle_stage_id', 'desc', 'Lifecycle Stage',
                                          'type', 'many2one', 'reason', h.reason),
                       h.from_stage_id, h.stage_id,
                       fs.name->>'en_US', ts.name->>'en_US', %(uid)s, h.date, %(uid)s, h.date
                  FROM lifecycle_messages m
                  JOIN %(source)s h ON m.message_id = 'crm-lifecycle-history-' || h.id || '@odoo'
                  JOIN crm_lifecycle_stage ts ON ts.id = h.stage_id
                  LEFT JOIN crm_lifecycle_stage fs ON fs.id = h.from_stage_id
            )
            """,
            field=field.id,
            subtype=self.env.ref("mail.mt_note").id,
            bot=self.env.ref("base.partner_root").id,
            uid=self.env.uid,
            source=source,
        )
