import io
import logging

import pandas as pd

from odoo import api, fields, models, modules
from odoo.tools import SQL

from ..lib import lifecycle

_logger = logging.getLogger(__name__)

RISK_LEVELS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]

# Work table of the full recompute: one row per (customer, company) with the
# deal aggregates of the current run. Unlogged (it is a cache that the next
# run rebuilds if the server crashed) and outside the ORM on purpose: it is
# written by one INSERT ... SELECT and read back in id order batch by batch.
WORK_TABLE = "crm_retention_work"

# Metric columns written by the recompute, in the order of the batch frame.
METRIC_COLUMNS = [
    "opportunity_count",
    "won_count",
    "deal_days",
    "first_deal_date",
    "last_deal_date",
    "prev_deal_date",
    "won_revenue",
    "avg_deal_amount",
    "avg_days_between_deals",
    "days_since_last_deal",
    "expected_interval_days",
    "overdue_ratio",
    "expected_next_deal_date",
    "p_alive",
    "churn_probability",
    "expected_deals_90d",
    "predicted_clv",
    "risk_level",
    "deals_since_lapse",
    "metrics_date",
]


class CrmCustomerProfile(models.Model):
    """What the company knows about one customer's relationship with it.

    One profile per (commercial partner, company): contacts roll up to their
    commercial partner, and each company of a multi-company database has its
    own view of the same customer. Metrics are stored so that stage rules,
    searches, list views and reports read them without recomputing; they are
    refreshed

    * by the daily cron / "Recompute now" (``_recompute_company``), set-based
      over all customers of a company, in committed batches;
    * at once for one customer when one of its opportunities is won, un-won or
      changes amount, date, partner or company (``_recompute_partners``).

    Both paths share ``_write_batch``: metrics come from ``lib.lifecycle``
    (pure numpy) and the churn model fitted per company
    (``crm.retention.model``); stage rules are then evaluated in SQL
    (``_evaluate_stages``) and changes logged in ``crm.lifecycle.history``.
    """

    _name = "crm.customer.profile"
    _description = "Customer Retention Profile"
    _order = "churn_probability desc, id"
    _rec_name = "partner_id"
    _check_company_auto = True

    # identity
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
        domain="[('is_company', '=', True)]",
    )
    company_id = fields.Many2one("res.company", required=True, index=True, ondelete="cascade")
    currency_id = fields.Many2one(related="company_id.currency_id")
    user_id = fields.Many2one(related="partner_id.user_id", string="Salesperson")
    # lifecycle
    stage_id = fields.Many2one(
        "crm.lifecycle.stage",
        string="Stage",
        index=True,
        ondelete="restrict",
        check_company=True,
        group_expand="_read_group_stage_ids",
    )
    stage_kind = fields.Selection(related="stage_id.kind", store=True, string="Stage Kind")
    stage_date = fields.Datetime(string="In Stage Since")
    stage_locked = fields.Boolean(
        string="Pinned",
        help="A manager pinned this stage: the rules leave it alone until it is unpinned.",
    )
    lapsed_date = fields.Date(
        help="When the customer last entered an At risk or Lost stage; a deal after it "
        "makes the customer Won back."
    )
    history_ids = fields.One2many("crm.lifecycle.history", "profile_id", string="Stage History")
    # deal metrics
    opportunity_count = fields.Integer(string="Opportunities")
    won_count = fields.Integer(string="Won Deals")
    deal_days = fields.Integer(
        help="Distinct days with a won deal (deals of the same day count once in the model)."
    )
    first_deal_date = fields.Date()
    last_deal_date = fields.Date()
    prev_deal_date = fields.Date(string="Previous Deal Date")
    won_revenue = fields.Monetary(help="Won revenue in the company currency.")
    avg_deal_amount = fields.Monetary(string="Average Deal Amount")
    avg_days_between_deals = fields.Float(digits=(16, 1))
    days_since_last_deal = fields.Integer()
    expected_interval_days = fields.Float(
        digits=(16, 1),
        help="The customer's own average interval between deals or, for one-time buyers, "
        "the typical repeat interval of the company's customers.",
    )
    overdue_ratio = fields.Float(
        digits=(16, 2),
        help="Days since the last deal divided by the expected interval: above 1 the "
        "customer is late against its own purchase rhythm.",
    )
    expected_next_deal_date = fields.Date()
    deals_since_lapse = fields.Integer(
        help="Deal days since the customer last lapsed (capped at 2)."
    )
    metrics_date = fields.Date(string="Computed On")
    # churn model outputs
    p_alive = fields.Float(string="P(alive)", digits=(16, 3), aggregator="avg")
    churn_probability = fields.Float(digits=(16, 3), aggregator="avg")
    expected_deals_90d = fields.Float(
        string="Expected Deals (90 days)", digits=(16, 2), aggregator="sum"
    )
    predicted_clv = fields.Monetary(string="Predicted CLV (12 months)")
    risk_level = fields.Selection(RISK_LEVELS, default="low", index=True)

    _sql_constraints = [
        (
            "partner_company_uniq",
            "UNIQUE(partner_id, company_id)",
            "A customer has one retention profile per company.",
        ),
    ]

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------

    def init(self):
        self.env.cr.execute(
            SQL(
                """
                CREATE UNLOGGED TABLE IF NOT EXISTS %(work)s (
                    company_id integer NOT NULL,
                    partner_id integer NOT NULL,
                    opportunity_count integer NOT NULL DEFAULT 0,
                    won_count integer NOT NULL DEFAULT 0,
                    deal_days integer NOT NULL DEFAULT 0,
                    first_deal_date date,
                    last_deal_date date,
                    prev_deal_date date,
                    won_revenue numeric NOT NULL DEFAULT 0,
                    PRIMARY KEY (company_id, partner_id)
                )
                """,
                work=SQL.identifier(WORK_TABLE),
            )
        )

    @api.model
    def _read_group_stage_ids(self, stages, domain):
        return stages.search([("company_id", "in", [False, *self.env.companies.ids])])

    def write(self, vals):
        # the recompute changes stages in SQL: an ORM write of stage_id is a person
        if "stage_id" in vals:
            return self._set_stage_manually(vals)
        return super().write(vals)

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    def action_unpin_stage(self):
        """Give the stage back to the rules and re-evaluate it now."""
        self.check_access("write")
        self.sudo().write({"stage_locked": False})
        for company, profiles in self.grouped("company_id").items():
            self.sudo()._recompute_partners(profiles.partner_id.ids, company)
        return True

    def action_view_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_retention.crm_lifecycle_history_action"
        )
        action["domain"] = [("profile_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # ------------------------------------------------------------------
    # BUSINESS: manual stage changes
    # ------------------------------------------------------------------

    def _set_stage_manually(self, vals):
        """A manager moved customers to a stage: pin it and log the change."""
        vals = dict(vals)
        stage = self.env["crm.lifecycle.stage"].browse(vals.pop("stage_id"))
        changed = self.filtered(lambda p: p.stage_id != stage)
        # access rights are checked by the write itself (managers only)
        res = super().write(vals) if vals else True
        if not changed:
            return res
        self.check_access("write")
        old_stages = {p.id: p.stage_id for p in changed}
        old_dates = {p.id: p.stage_date for p in changed}
        now = fields.Datetime.now()
        super(CrmCustomerProfile, changed).write(
            {
                "stage_id": stage.id,
                "stage_date": now,
                "stage_locked": True,
                **(
                    {"lapsed_date": fields.Date.context_today(self)}
                    if stage.kind in ("at_risk", "lost")
                    else {}
                ),
            }
        )
        history = (
            self.env["crm.lifecycle.history"]
            .sudo()
            .create(
                [
                    {
                        "profile_id": p.id,
                        "from_stage_id": old_stages[p.id].id,
                        "stage_id": stage.id,
                        "date": now,
                        "reason": self.env.context.get("lifecycle_reason", "manual"),
                        "user_id": self.env.uid,
                        "duration_days": (now - old_dates[p.id]).total_seconds() / 86400
                        if old_dates[p.id]
                        else 0.0,
                    }
                    for p in changed
                ]
            )
        )
        history._post_partner_messages()
        changed._sync_partner_stage()
        return res

    def _sync_partner_stage(self):
        """Mirror stages into the partner's company-dependent field (for
        filters and group-by), for all these profiles in one UPDATE. In SQL:
        the partner's ORM write of this field is the manual-change path."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner rp
                   SET lifecycle_stage_id = COALESCE(rp.lifecycle_stage_id, '{}'::jsonb)
                       || jsonb_build_object(p.company_id::text, p.stage_id)
                  FROM crm_customer_profile p
                 WHERE p.id = ANY(%s) AND rp.id = p.partner_id
                """,
                self.ids,
            )
        )
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id"])

    # ------------------------------------------------------------------
    # BUSINESS: recompute
    # ------------------------------------------------------------------

    @api.model
    def _deal_source_sql(self, company_ids, partner_ids=None):
        """Won deals as SQL rows ``(partner_id, company_id, deal_date, amount, currency_id)``.

        ``partner_id`` is the commercial partner (contacts roll up to their
        company). This is the extension point for other deal sources: a bridge
        addon adds confirmed sale orders or posted invoices with::

            def _deal_source_sql(self, company_ids, partner_ids=None):
                return SQL("%s UNION ALL %s",
                           super()._deal_source_sql(company_ids, partner_ids),
                           SQL("SELECT ... FROM sale_order so ..."))

        Amounts may be in any currency: they are converted to the company
        currency at the deal date by the caller. A won opportunity without
        closing date counts at its last stage change; without amount it
        counts as a deal worth 0.
        """
        partner_filter = (
            SQL("AND p.commercial_partner_id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL()
        )
        return SQL(
            """
            SELECT p.commercial_partner_id AS partner_id,
                   COALESCE(l.company_id, p.company_id, u.company_id) AS company_id,
                   COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date
                       AS deal_date,
                   COALESCE(l.expected_revenue, 0) AS amount,
                   c.currency_id AS currency_id
              FROM crm_lead l
              JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
              JOIN res_partner p ON p.id = l.partner_id
              LEFT JOIN res_users u ON u.id = l.user_id
              JOIN res_company c ON c.id = COALESCE(l.company_id, p.company_id, u.company_id)
             WHERE l.active
               AND l.type = 'opportunity'
               AND COALESCE(l.company_id, p.company_id, u.company_id) = ANY(%(companies)s)
               %(partner_filter)s
            """,
            companies=list(company_ids),
            partner_filter=partner_filter,
        )

    @api.model
    def _opportunity_source_sql(self, company_ids, partner_ids=None):
        """All opportunities and leads (open, won or lost) per customer: a
        customer with opportunities but no won deal is a Potential one."""
        partner_filter = (
            SQL("AND p.commercial_partner_id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL()
        )
        return SQL(
            """
            SELECT p.commercial_partner_id AS partner_id,
                   COALESCE(l.company_id, p.company_id, u.company_id) AS company_id,
                   count(*) AS opportunity_count
              FROM crm_lead l
              JOIN res_partner p ON p.id = l.partner_id
              LEFT JOIN res_users u ON u.id = l.user_id
             WHERE COALESCE(l.company_id, p.company_id, u.company_id) = ANY(%(companies)s)
               %(partner_filter)s
             GROUP BY 1, 2
            """,
            companies=list(company_ids),
            partner_filter=partner_filter,
        )

    @api.model
    def _converted_deals_sql(self, company_ids, today, partner_ids=None):
        """Deal rows ``(partner_id, company_id, deal_date, amount)`` with the
        amount in the company currency, converted at the deal date with the
        company's rates (the deal source, ``_deal_source_sql``, may return any
        currency). Shared by the metrics and by campaign outcomes, so a deal
        counts the same everywhere."""
        return SQL(
            """
            WITH deals AS (%(source)s),
            dated AS (
                -- clamp: a typo like year 0201 must not break the numpy dates
                SELECT d.partner_id, d.company_id, d.amount, d.currency_id,
                       LEAST(GREATEST(d.deal_date, DATE '1900-01-01'), %(today)s) AS deal_date,
                       c.currency_id AS company_currency_id
                  FROM deals d JOIN res_company c ON c.id = d.company_id
            )
            SELECT partner_id, company_id, deal_date, amount
              FROM dated
             WHERE currency_id IS NULL OR currency_id = company_currency_id
            UNION ALL
            -- rate lookups only for deals in another currency
            SELECT d.partner_id, d.company_id, d.deal_date,
                   d.amount * COALESCE(to_rate.rate, 1) / COALESCE(from_rate.rate, 1)
              FROM dated d
              LEFT JOIN LATERAL (
                    SELECT r.rate FROM res_currency_rate r
                     WHERE r.currency_id = d.currency_id
                       AND (r.company_id = d.company_id OR r.company_id IS NULL)
                       AND r.name <= d.deal_date
                     ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1
              ) from_rate ON true
              LEFT JOIN LATERAL (
                    SELECT r.rate FROM res_currency_rate r
                     WHERE r.currency_id = d.company_currency_id
                       AND (r.company_id = d.company_id OR r.company_id IS NULL)
                       AND r.name <= d.deal_date
                     ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1
              ) to_rate ON true
             WHERE d.currency_id IS NOT NULL AND d.currency_id <> d.company_currency_id
            """,
            source=self._deal_source_sql(company_ids, partner_ids),
            today=today,
        )

    @api.model
    def _aggregate_sql(self, company_ids, today, partner_ids=None):
        """One row per (customer, company) with the deal aggregates.

        Deals are first folded per day (same-day deals are one purchase for
        the model), amounts converted to the company currency at the deal
        date with the company's rates.
        """
        return SQL(
            """
            WITH converted AS (%(converted)s),
            days AS (
                -- a day is a purchase when it has a deal that is not a refund
                SELECT partner_id, company_id, deal_date,
                       count(*) FILTER (WHERE amount >= 0) AS n, sum(amount) AS amount
                  FROM converted GROUP BY partner_id, company_id, deal_date
            ),
            per_customer AS (
                SELECT partner_id, company_id,
                       sum(n)::integer AS won_count,
                       count(*) FILTER (WHERE n > 0)::integer AS deal_days,
                       min(deal_date) FILTER (WHERE n > 0) AS first_deal_date,
                       max(deal_date) FILTER (WHERE n > 0) AS last_deal_date,
                       (array_agg(deal_date ORDER BY deal_date DESC)
                            FILTER (WHERE n > 0))[2] AS prev_deal_date,
                       sum(amount) AS won_revenue
                  FROM days GROUP BY partner_id, company_id
            ),
            opportunities AS (%(opportunities)s)
            SELECT COALESCE(c.company_id, o.company_id) AS company_id,
                   COALESCE(c.partner_id, o.partner_id) AS partner_id,
                   COALESCE(o.opportunity_count, 0) AS opportunity_count,
                   COALESCE(c.won_count, 0) AS won_count,
                   COALESCE(c.deal_days, 0) AS deal_days,
                   c.first_deal_date, c.last_deal_date, c.prev_deal_date,
                   COALESCE(c.won_revenue, 0) AS won_revenue
              FROM per_customer c
              FULL JOIN opportunities o
                ON o.partner_id = c.partner_id AND o.company_id = c.company_id
            """,
            converted=self._converted_deals_sql(company_ids, today, partner_ids),
            opportunities=self._opportunity_source_sql(company_ids, partner_ids),
        )

    @api.model
    def _recompute_partners(self, partner_ids, company, today=None):
        """Refresh the profiles of some customers of ``company`` right now,
        with the company's current model parameters (no refit)."""
        partner_ids = list(set(partner_ids))
        if not partner_ids:
            return
        self.env.flush_all()
        today = today or fields.Date.context_today(self)
        Partner = self.env["res.partner"].with_context(active_test=False)
        commercial = Partner.browse(partner_ids).commercial_partner_id.ids
        self.env.cr.execute(self._aggregate_sql([company.id], today, commercial))
        frame = pd.DataFrame(
            self.env.cr.fetchall(), columns=[d.name for d in self.env.cr.description]
        )
        model = self.env["crm.retention.model"]._get_for_company(company)
        self._write_batch(company, model, frame, today, reset_partner_ids=commercial)
        # a deal won during a campaign's outcome window retains its member now
        self.env["crm.retention.campaign.member"].sudo()._refresh_outcomes(
            company=company, partner_ids=commercial, today=today
        )

    @api.model
    def _get_campaign_attributed_ids(self, profile_ids, today):
        """Profiles among ``profile_ids`` whose comeback a campaign can claim:
        treated members, contacted by a step, inside their outcome window."""
        self.env["crm.retention.campaign.member"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT profile_id FROM crm_retention_campaign_member
                 WHERE profile_id = ANY(%s) AND member_group = 'treated'
                   AND contacted_date IS NOT NULL
                   AND enrol_date <= %s AND window_end_date >= %s
                """,
                list(profile_ids),
                today,
                today,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _write_batch(self, company, model, frame, today, reset_partner_ids=None, reset_range=None):
        """Compute metrics for the aggregated customers in ``frame``, upsert
        their profiles, evaluate their stages and log changes.

        Customers that have a profile but are absent from ``frame`` (their
        deals moved to another partner, were deleted or lost) get their
        metrics reset: those listed in ``reset_partner_ids`` or, for a full
        run, those whose partner id lies in ``reset_range`` (lo, hi].
        """
        cr = self.env.cr
        settings = self.env["crm.retention.model"]._get_settings()
        lapsed = self._get_lapsed_dates(company, frame["partner_id"].tolist())
        metrics = lifecycle.compute_metrics(
            frame,
            today=today,
            params=model._get_params(),
            typical_interval_days=model.typical_interval_days or settings["default_interval_days"],
            lapsed_dates=lapsed,
            settings=settings,
        )
        metrics["company_id"] = company.id
        # write through a temp table filled with COPY (one round trip per batch);
        # no column defaults (CREATE TABLE AS): COPY must not draw profile ids
        cr.execute(
            SQL(
                "CREATE TEMP TABLE IF NOT EXISTS crm_retention_batch ON COMMIT DROP AS "
                "SELECT partner_id, company_id, %s FROM crm_customer_profile WITH NO DATA",
                SQL(", ").join(SQL.identifier(c) for c in METRIC_COLUMNS),
            )
        )
        cr.execute("TRUNCATE crm_retention_batch")
        columns = ["partner_id", "company_id", *METRIC_COLUMNS]
        if len(metrics):
            buf = io.StringIO()
            metrics[columns].to_csv(buf, index=False, header=False, na_rep="\\N")
            buf.seek(0)
            # column names are this module's constants, not user input
            cr.copy_expert(
                f"COPY crm_retention_batch ({', '.join(columns)}) "
                "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                buf,
            )
        # an index and fresh statistics: right after a first run's inserts
        # the planner takes the profiles for empty and anti-joins them with
        # the batch by nested loops, which without index cost minutes
        cr.execute(
            "CREATE INDEX IF NOT EXISTS crm_retention_batch_partner_idx "
            "ON crm_retention_batch (partner_id)"
        )
        cr.execute("ANALYZE crm_retention_batch")
        uid = self.env.uid
        col_list = SQL(", ").join(SQL.identifier(c) for c in columns)
        updates = SQL(", ").join(
            SQL("%s = b.%s", SQL.identifier(c), SQL.identifier(c)) for c in METRIC_COLUMNS
        )
        # update existing profiles, then insert the new ones (an upsert would
        # draw a sequence value per row even when it updates)
        cr.execute(
            SQL(
                """
                UPDATE crm_customer_profile p
                   SET %(updates)s, write_uid = %(uid)s, write_date = now() at time zone 'UTC'
                  FROM crm_retention_batch b
                 WHERE p.partner_id = b.partner_id AND p.company_id = b.company_id
                RETURNING p.id
                """,
                updates=updates,
                uid=uid,
            )
        )
        profile_ids = [row[0] for row in cr.fetchall()]
        cr.execute(
            SQL(
                """
                INSERT INTO crm_customer_profile
                       (%(cols)s, stage_locked, create_uid, create_date, write_uid, write_date)
                SELECT %(cols)s, false, %(uid)s, now() at time zone 'UTC',
                       %(uid)s, now() at time zone 'UTC'
                  FROM crm_retention_batch b
                 WHERE NOT EXISTS (
                       SELECT 1 FROM crm_customer_profile p
                        WHERE p.partner_id = b.partner_id AND p.company_id = b.company_id)
                RETURNING id
                """,
                cols=col_list,
                uid=uid,
            )
        )
        profile_ids += [row[0] for row in cr.fetchall()]
        profile_ids += self._reset_absent(company, frame, today, reset_partner_ids, reset_range)
        self.invalidate_model()
        self._evaluate_stages(company, profile_ids, today)

    @api.model
    def _get_lapsed_dates(self, company, partner_ids):
        if not partner_ids:
            return {}
        self.env.cr.execute(
            SQL(
                "SELECT partner_id, lapsed_date FROM crm_customer_profile "
                "WHERE company_id = %s AND partner_id = ANY(%s) AND lapsed_date IS NOT NULL",
                company.id,
                partner_ids,
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _reset_absent(self, company, frame, today, reset_partner_ids, reset_range):
        """Zero the metrics of profiles whose customer has no deal left."""
        if reset_partner_ids is None and reset_range is None:
            return []
        # the batch's customers are in the crm_retention_batch temp table
        if reset_partner_ids is not None:
            scope = SQL("partner_id = ANY(%s)", list(reset_partner_ids))
        else:
            lo, hi = reset_range
            scope = SQL("partner_id > %s", lo)
            if hi is not None:
                scope = SQL("%s AND partner_id <= %s", scope, hi)
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_customer_profile p
                   SET opportunity_count = 0, won_count = 0, deal_days = 0,
                       first_deal_date = NULL, last_deal_date = NULL, prev_deal_date = NULL,
                       won_revenue = 0, avg_deal_amount = 0, avg_days_between_deals = 0,
                       days_since_last_deal = 0, expected_interval_days = 0, overdue_ratio = 0,
                       expected_next_deal_date = NULL, p_alive = 0, churn_probability = 0,
                       expected_deals_90d = 0, predicted_clv = 0, risk_level = 'low',
                       deals_since_lapse = 0, metrics_date = %(today)s
                 WHERE company_id = %(company)s AND %(scope)s
                   AND NOT EXISTS (
                       SELECT 1 FROM crm_retention_batch b WHERE b.partner_id = p.partner_id)
                   AND (won_count <> 0 OR opportunity_count <> 0)
                RETURNING id
                """,
                today=today,
                company=company.id,
                scope=scope,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _evaluate_stages(self, company, profile_ids, today, reason="rule"):
        """Apply the stage rules to ``profile_ids`` in SQL and log changes.

        A customer that comes back (Won back / Active) while it is in the
        outcome window of a retention campaign that contacted it gets the
        history reason "campaign" instead of ``reason``: the campaign, not
        the rule, is what the history then credits.

        The stages of the company are tried in sequence: the ORM turns each
        rule domain into SQL (so any domain the widget can build works) and
        the conditions are combined into one ``CASE WHEN rule THEN stage``
        update; a rule through relations becomes an ``id IN (sub-select)``. Pinned profiles are left
        alone. Returns the ``crm.lifecycle.history`` records created.
        """
        if not profile_ids:
            return self.env["crm.lifecycle.history"]
        Profile = self.sudo().with_context(active_test=False)
        stages = self.env["crm.lifecycle.stage"].sudo()._get_company_stages(company)
        cases = []
        for stage in stages:
            try:
                domain = stage._get_rule_domain()
                query = Profile._where_calc(domain)
            except Exception:  # noqa: BLE001 - a rule broken by a later field change
                _logger.exception("Skipping lifecycle stage %s: invalid rule", stage.id)
                continue
            if query._joins:
                # a rule through relations: a sub-select limited to the batch
                query.add_where(SQL("%s = ANY(%s)", SQL.identifier(query.table, "id"), profile_ids))
                condition = SQL(
                    "crm_customer_profile.id IN (%s)",
                    query.subselect(SQL.identifier(query.table, "id")),
                )
            else:
                # the usual rule on the profile's own columns: its WHERE clause
                # (alias crm_customer_profile) goes straight into the CASE
                condition = query.where_clause or SQL("TRUE")
            try:
                # a rule can be valid Python yet fail in SQL (a bad date
                # value): it must not block every deal of the company
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        SQL("SELECT 1 FROM crm_customer_profile WHERE %s LIMIT 1", condition)
                    )
            except Exception:  # noqa: BLE001
                _logger.exception("Skipping lifecycle stage %s: its rule fails", stage.id)
                continue
            cases.append(SQL("WHEN %s THEN %s", condition, stage.id))
        if not cases:
            return self.env["crm.lifecycle.history"]
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                WITH target AS (
                    SELECT crm_customer_profile.id,
                           crm_customer_profile.stage_id AS old_stage,
                           crm_customer_profile.stage_date AS old_date,
                           CASE %(cases)s END AS new_stage
                      FROM crm_customer_profile
                     WHERE crm_customer_profile.id = ANY(%(ids)s)
                       AND NOT COALESCE(crm_customer_profile.stage_locked, false)
                ),
                changed AS (
                    UPDATE crm_customer_profile p
                       SET stage_id = t.new_stage, stage_date = %(now)s,
                           stage_kind = s.kind,
                           lapsed_date = CASE WHEN s.kind IN ('at_risk', 'lost')
                                               AND COALESCE(os.kind, '') NOT IN ('at_risk', 'lost')
                                              THEN %(today)s ELSE p.lapsed_date END
                      FROM target t
                      JOIN crm_lifecycle_stage s ON s.id = t.new_stage
                      LEFT JOIN crm_lifecycle_stage os ON os.id = t.old_stage
                     WHERE p.id = t.id AND t.new_stage IS DISTINCT FROM t.old_stage
                       AND t.new_stage IS NOT NULL
                 RETURNING p.id, p.partner_id, p.company_id, t.old_stage, t.new_stage, t.old_date,
                           s.kind AS new_kind
                )
                INSERT INTO crm_lifecycle_history
                       (profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                        reason, user_id, duration_days,
                        create_uid, create_date, write_uid, write_date)
                SELECT id, partner_id, company_id, old_stage, new_stage, %(now)s,
                       CASE WHEN id = ANY(%(campaign_ids)s) AND new_kind IN ('won_back', 'active')
                            THEN 'campaign' ELSE %(reason)s END,
                       %(uid)s,
                       COALESCE(EXTRACT(EPOCH FROM (%(now)s - old_date)) / 86400.0, 0),
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM changed
                RETURNING id
                """,
                cases=SQL(" ").join(cases),
                ids=profile_ids,
                now=now,
                today=today,
                reason=reason,
                campaign_ids=self._get_campaign_attributed_ids(profile_ids, today),
                uid=self.env.uid,
            )
        )
        history_ids = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model()
        history = self.env["crm.lifecycle.history"].sudo().browse(history_ids)
        history.invalidate_model()
        if history:
            history.profile_id._sync_partner_stage()
            history._post_partner_messages()
        return history

    @api.model
    def _recompute_company(self, company, batch_size=None, today=None):
        """Full recompute of one company, resumable.

        1. aggregate every deal of the company into the work table (one
           INSERT ... SELECT) and refit the model; commit;
        2. walk the work table in partner-id order by batches of
           ``batch_size``; each batch writes profiles, stages and history and
           commits, moving the run's cursor;
        3. mark the run done.

        A run that dies half-way leaves committed batches consistent
        (profile, stage and history change together) and its state
        ``running``: the next call resumes at the cursor with the same
        parameters and the same "today".
        """
        cr = self.env.cr
        Model = self.env["crm.retention.model"].sudo()
        model = Model._get_for_company(company)
        settings = Model._get_settings()
        batch_size = batch_size or settings["batch_size"]
        today = today or fields.Date.context_today(self)
        work = SQL.identifier(WORK_TABLE)
        if model.run_state == "running":
            cr.execute(SQL("SELECT count(*) FROM %s WHERE company_id = %s", work, company.id))
            if cr.fetchone()[0] != model.run_total:
                # the unlogged work table was emptied (server crash): start over
                _logger.warning("Lifecycle work table lost for company %s: restarting", company.id)
                model.run_state = "idle"
        if model.run_state != "running":
            cr.execute(SQL("DELETE FROM %s WHERE company_id = %s", work, company.id))
            cr.execute(
                SQL(
                    "INSERT INTO %s (company_id, partner_id, opportunity_count, won_count, "
                    "deal_days, first_deal_date, last_deal_date, prev_deal_date, won_revenue) "
                    "SELECT company_id, partner_id, opportunity_count, won_count, deal_days, "
                    "first_deal_date, last_deal_date, prev_deal_date, won_revenue FROM (%s) agg",
                    work,
                    self._aggregate_sql([company.id], today),
                )
            )
            run_total = cr.rowcount
            model._fit_from_work_table(today)
            model.write(
                {"run_state": "running", "run_cursor": 0, "run_date": today, "run_total": run_total}
            )
            self._commit_progress()
        today = model.run_date or today
        done = 0
        while True:
            cr.execute(
                SQL(
                    "SELECT * FROM %s WHERE company_id = %s AND partner_id > %s "
                    "ORDER BY partner_id LIMIT %s",
                    work,
                    company.id,
                    model.run_cursor,
                    batch_size,
                )
            )
            frame = pd.DataFrame(cr.fetchall(), columns=[d.name for d in cr.description])
            last = int(frame["partner_id"].iloc[-1]) if len(frame) else None
            is_last_batch = len(frame) < batch_size
            self._write_batch(
                company,
                model,
                frame,
                today,
                reset_range=(model.run_cursor, None if is_last_batch else last),
            )
            done += len(frame)
            if is_last_batch:
                break
            model.run_cursor = last
            self._commit_progress(done=done)
        cr.execute(SQL("DELETE FROM %s WHERE company_id = %s", work, company.id))
        model.write({"run_state": "done", "run_cursor": 0, "last_run_date": fields.Datetime.now()})
        self._commit_progress(done=done)
        return done

    @api.model
    def _commit_progress(self, done=0):
        """Commit a finished batch (cron and button only, never in tests)."""
        self.env.flush_all()
        registry = self.env.registry
        # Each batch is consistent on its own: commit so a crash keeps it.
        # Never while installing (demo data runs a recompute) or under tests.
        if (
            registry.ready
            and not registry.in_test_mode()
            and not modules.module.current_test
            and not self.env.context.get("lifecycle_no_commit")
        ):
            self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env["ir.cron"]._notify_progress(done=done, remaining=0)
