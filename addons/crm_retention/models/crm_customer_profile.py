import contextlib
import io
import itertools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from odoo import api, fields, models, modules
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, is_html_empty

from ..lib import lifecycle

_logger = logging.getLogger(__name__)

RISK_LEVELS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]

# Work tables of the full recompute, one per company (this name and
# _<company id>): one row per customer with the metrics of the current run, in
# the batch layout (see _store_metrics). Unlogged (a cache that the next run
# rebuilds if the server crashed) and outside the ORM on purpose: created by
# each run, written by one COPY, applied to the profiles in partner-id order
# batch by batch, dropped when the run is done.
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
    "metrics_date",
]


# Raw column types of the batch layout (work table, crm_retention_batch) per
# field kind: (PostgreSQL type, numpy big-endian dtype of the binary COPY).
# Floats travel as integers scaled by 10^decimals (BATCH_DECIMALS: amounts,
# rounded to cents, and other floats, rounded to at most 4 decimals):
# PostgreSQL turns a bigint into numeric several times faster than a float8
# (which goes through text). Values beyond the bigint range (amounts of
# 92 quadrillion) are clipped.
BATCH_TYPES = {
    "integer": ("integer", ">i4"),
    "float": ("bigint", ">i8"),
    "date": ("integer", ">i4"),
    "selection": ("integer", ">i4"),
}
BATCH_DECIMALS = {"monetary": 2, "float": 4}
BATCH_NULL_DATE = -(2**31)

# the metrics of a recompute are computed by chunks of customers (bounding
# the memory of the model's temporaries), by threads, at most this many
# (see _compute_metrics); they are stored by COPY in chunks of this size too
METRICS_THREADS = 4
METRICS_CHUNK = 100000

# first key of the advisory lock of a company's recompute run (the second is
# the company id): "CRMR"
RUN_LOCK_KEY = 0x43524D52


class RecomputeRunning(UserError):
    """Another recompute of the same company holds its lock."""


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
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Customer Retention Profile"
    # whoever may read a customer's profile may note on it and plan a call:
    # salespeople read their customers' profiles, only the engine writes them
    _mail_post_access = "read"
    _order = "churn_probability desc, id"
    _rec_name = "partner_id"
    _check_company_auto = True

    # identity
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        ondelete="cascade",
        domain="[('is_company', '=', True)]",
    )
    company_id = fields.Many2one("res.company", required=True, index=True, ondelete="cascade")
    currency_id = fields.Many2one(related="company_id.currency_id")
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        readonly=True,
        help="Who looks after the customer: its salesperson, else the salesperson of its "
        "latest opportunity. Kept in sync by the recompute and when either changes.",
    )
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
    metrics_date = fields.Date(
        string="Computed On",
        help="Date of the recompute that last changed these metrics: a customer whose "
        "values did not change is not rewritten.",
    )
    # database clock, with microseconds, written in SQL only: a batch of the
    # full recompute never overwrites a profile stamped after the run read
    # the deals (see _upsert_batch)
    metrics_stamp = fields.Datetime(
        string="Metrics Read At",
        readonly=True,
        help="When the deals behind these metrics were read: the full recompute leaves "
        "alone a customer refreshed (a deal won) after it read the deals.",
    )
    # churn model outputs
    p_alive = fields.Float(
        string="P(alive)",
        digits=(16, 3),
        aggregator="avg",
        help="The chance the customer still buys from you, from its own purchase history "
        "(how often it bought, how long it has been silent) and the company's churn model.",
    )
    churn_probability = fields.Float(
        digits=(16, 3),
        aggregator="avg",
        help="1 - P(alive): the chance the customer has already stopped buying.",
    )
    expected_deals_90d = fields.Float(
        string="Expected Deals (90 days)", digits=(16, 2), aggregator="sum"
    )
    predicted_clv = fields.Monetary(string="Predicted CLV (12 months)")
    # not indexed: the recompute rewrites it, and an indexed column that
    # changes makes the row's update non-HOT (every index written again)
    risk_level = fields.Selection(RISK_LEVELS, default="low")

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
        # The daily recompute rewrites every customer with deals (P(alive)
        # and days since the last deal move with the date): half-empty pages
        # keep the new row versions on their page (HOT updates, no index
        # writes). partner_id needs no index of its own: the unique
        # (partner_id, company_id) index serves it. Both are dropped here for
        # databases installed before.
        self.env.cr.execute(
            """
            ALTER TABLE crm_customer_profile SET (fillfactor = 50);
            DROP INDEX IF EXISTS crm_customer_profile__partner_id_index;
            DROP INDEX IF EXISTS crm_customer_profile__risk_level_index;
            """
        )
        # the work tables are created by each run (see _recompute_company);
        # earlier versions had one shared table
        self.env.cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(WORK_TABLE)))
        # the transaction that wrote the metrics (see _upsert_batch): a type
        # the ORM has no field for, so created here
        self.env.cr.execute(
            "ALTER TABLE crm_customer_profile ADD COLUMN IF NOT EXISTS metrics_xid xid8"
        )

    @api.model
    def get_empty_list_help(self, help_message):
        """An empty list tells each user what he can do: a manager can run the
        recompute, a salesperson learns where his customers come from (the
        actions with a help of their own keep it)."""
        if not is_html_empty(help_message):
            return super().get_empty_list_help(help_message)
        if self.env.user.has_group("crm_retention.group_retention_manager"):
            text = self.env._(
                "Profiles are computed every night from won opportunities. To compute "
                "them now, open Configuration > Churn Models and click Recompute now."
            )
        else:
            text = self.env._(
                "Your customers appear here once they have a won opportunity: a customer "
                "is yours when you are its salesperson or the salesperson of its latest "
                "opportunity. Profiles are refreshed every night and as soon as a deal is won."
            )
        return super().get_empty_list_help(
            f'<p class="o_view_nocontent_smiling_face">{self.env._("No customer here yet")}</p>'
            f"<p>{text}</p>"
        )

    @api.model
    def _read_group_stage_ids(self, stages, domain):
        return stages.search([("company_id", "in", [False, *self.env.companies.ids])])

    @api.model_create_multi
    def create(self, vals_list):
        # the engine creates profiles in SQL; an ORM create (an import, a test)
        # gets its salesperson the same way
        profiles = super().create(vals_list)
        self._sync_owners(partner_ids=profiles.partner_id.ids)
        return profiles

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
            self._partner_stage_sql(
                SQL(
                    "(SELECT partner_id, company_id, stage_id FROM crm_customer_profile "
                    "WHERE id = ANY(%s))",
                    self.ids,
                )
            )
        )
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id"])

    @api.model
    def _partner_stage_sql(self, source):
        """UPDATE mirroring ``source`` rows (partner_id, company_id, stage_id)
        into ``res_partner.lifecycle_stage_id``.

        The partners are also looked up by ``id = ANY(ARRAY(...))``: the
        planner cannot estimate a CTE of a few changed stages and would
        otherwise hash every partner of the database for each batch.
        """
        return SQL(
            """
            UPDATE res_partner rp
               SET lifecycle_stage_id = COALESCE(rp.lifecycle_stage_id, '{}'::jsonb)
                   || src.stages
              FROM (
                    -- one row per partner: UPDATE ... FROM applies a single
                    -- source row, and a partner may change in several companies
                    SELECT s1.partner_id,
                           jsonb_object_agg(s1.company_id::text, s1.stage_id) AS stages
                      FROM %(source)s s1
                     GROUP BY s1.partner_id
                   ) src
             WHERE rp.id = src.partner_id
               AND rp.id = ANY(ARRAY(SELECT s2.partner_id FROM %(source)s s2))
            """,
            source=source,
        )

    # ------------------------------------------------------------------
    # BUSINESS: recompute
    # ------------------------------------------------------------------

    @api.model
    def _lead_rows_sql(self, company_ids, partner_ids=None):
        """Every lead and opportunity of the companies (open, won or lost),
        one row each: ``(partner_id, company_id, is_deal, deal_date, amount,
        currency_id)``, ``partner_id`` being the commercial partner (contacts
        roll up to their company) and ``is_deal`` true for won opportunities.

        ``_aggregate_sql`` reads crm_lead once through this query, as its CTE
        ``leads``, for both the deals and the opportunity counts.
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
                   (l.active AND l.type = 'opportunity' AND COALESCE(s.is_won, false))
                       AS is_deal,
                   COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date
                       AS deal_date,
                   COALESCE(l.expected_revenue, 0) AS amount,
                   -- an opportunity's amount is in its company's currency
                   NULL::integer AS currency_id
              FROM crm_lead l
              JOIN res_partner p ON p.id = l.partner_id
              LEFT JOIN crm_stage s ON s.id = l.stage_id
              LEFT JOIN res_users u ON u.id = l.user_id
             -- the company as COALESCE above, written so that the planner
             -- estimates the rows from crm_lead.company_id: with the COALESCE
             -- alone it expects a few rows and aggregates serially
             WHERE (l.company_id = ANY(%(companies)s)
                    OR (l.company_id IS NULL
                        AND COALESCE(p.company_id, u.company_id) = ANY(%(companies)s)))
               %(partner_filter)s
            """,
            companies=list(company_ids),
            partner_filter=partner_filter,
        )

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

        The default reads the won opportunities from the ``leads`` CTE of
        ``_aggregate_sql`` (see ``_lead_rows_sql``), so it is only valid
        inside a query that defines it; elsewhere read ``_deal_rows_sql``
        (or ``_converted_deals_sql`` for amounts in the company currency).
        Amounts may be in any currency (``currency_id`` NULL: the company's
        own); they are converted to the company currency at the deal date
        by the caller. A
        won opportunity without closing date counts at its last stage
        change; without amount it counts as a deal worth 0.
        """
        return self._lead_deal_source_sql()

    @api.model
    def _lead_deal_source_sql(self):
        """The stock deal source: the won opportunities of the ``leads`` CTE.
        ``_aggregate_sql`` recognises it to read crm_lead in a single pass."""
        return SQL(
            "SELECT partner_id, company_id, deal_date, amount, currency_id FROM leads WHERE is_deal"
        )

    @api.model
    def _deal_rows_sql(self, company_ids, partner_ids=None):
        """The deal source (``_deal_source_sql``) as a query valid on its
        own: it brings its own ``leads`` CTE. For readers outside the
        lifecycle aggregate (KPI reports, campaign outcomes)."""
        return SQL(
            "WITH leads AS (%s) %s",
            self._lead_rows_sql(company_ids, partner_ids),
            self._deal_source_sql(company_ids, partner_ids),
        )

    @api.model
    def _convert_deals_sql(self, deals, today, extra_columns=()):
        """SELECT of ``(partner_id, company_id, deal_date, amount)`` from the
        relation ``deals`` (rows of ``_deal_source_sql``) with the amount in
        the company currency, converted at the deal date with the company's
        rates, plus the ``extra_columns`` of ``deals`` passed through. The
        one conversion of the module: the lifecycle aggregate and campaign
        outcomes both use it, so a deal counts the same everywhere.
        """

        def rate(currency):
            return SQL(
                """(SELECT r.rate FROM res_currency_rate r
                     WHERE r.currency_id = %s
                       AND (r.company_id = d.company_id OR r.company_id IS NULL)
                       AND r.name <= d.deal_date
                     ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1)""",
                currency,
            )

        # sub-selects, not a join: CASE evaluates them lazily, only for deals
        # in another currency, and a join on the computed company of a lead
        # would ruin the planner's row estimates
        company_currency = SQL(
            "(SELECT c.currency_id FROM res_company c WHERE c.id = d.company_id)"
        )
        return SQL(
            """
            SELECT d.partner_id, d.company_id, d.deal_date, %(extra)s
                   CASE WHEN d.currency_id IS NULL OR d.currency_id = %(company_currency)s
                        THEN d.amount
                        ELSE d.amount * COALESCE(%(to_rate)s, 1) / COALESCE(%(from_rate)s, 1)
                   END AS amount
              FROM (
                    -- clamp: a typo like year 0201 must not break the numpy dates
                    SELECT partner_id, company_id, amount, currency_id, %(extra)s
                           LEAST(GREATEST(deal_date, DATE '1900-01-01'), %(today)s)
                               AS deal_date
                      FROM %(deals)s
                   ) d
             WHERE d.company_id IS NOT NULL
            """,
            deals=deals,
            company_currency=company_currency,
            today=today,
            extra=SQL("").join(SQL("%s, ", SQL.identifier(c)) for c in extra_columns),
            from_rate=rate(SQL("d.currency_id")),
            to_rate=rate(company_currency),
        )

    @api.model
    def _converted_deals_sql(self, company_ids, today, partner_ids=None):
        """Deal rows ``(partner_id, company_id, deal_date, amount)``, amounts
        in the company currency (see ``_convert_deals_sql``), as a query
        valid on its own (it builds its own ``leads`` CTE). Used by campaign
        outcomes; the lifecycle aggregate shares its ``leads`` scan with the
        opportunity count instead but converts the same way."""
        return SQL(
            """
            WITH leads AS (%(leads)s),
            deals AS (%(source)s)
            %(converted)s
            """,
            leads=self._lead_rows_sql(company_ids, partner_ids),
            source=self._deal_source_sql(company_ids, partner_ids),
            converted=self._convert_deals_sql(SQL("deals"), today),
        )

    @api.model
    def _aggregate_sql(self, company_ids, today, partner_ids=None):
        """One row per (customer, company) with the deal aggregates:
        ``company_id, partner_id, opportunity_count, won_count, deal_days,
        first_deal_date, last_deal_date, prev_deal_date, won_revenue``, the
        dates as days since 1970-01-01 (numpy reads integers much faster than
        it parses dates; ``lib.lifecycle`` takes both).

        Every lead and every deal becomes an "activity" row; they are folded
        first per customer and deal day (same-day deals are one purchase for
        the model; a day is a purchase when it has a deal that is not a
        refund; a lead that is not a deal is a row of day NULL), then per
        customer. Amounts are converted to the company currency at the deal
        date (``_convert_deals_sql``).

        Amounts are summed as float8, several times faster than numeric
        (the metrics are rounded to cents afterwards).

        crm_lead is read once. With the stock deal source (the won
        opportunities) the lead rows carry their own deal flag, so one
        parallel scan feeds both the deals and the opportunity counts. An
        extended source (``_deal_source_sql`` overridden by a bridge addon)
        is added as deal rows next to the leads counted as opportunities
        only: correct for any source, at the price of reading the leads
        twice.
        """
        source = self._deal_source_sql(company_ids, partner_ids)
        # this module's own stock source, not an override of it
        if source.code == CrmCustomerProfile._lead_deal_source_sql(self).code:
            activity = SQL(
                "SELECT partner_id, company_id, is_deal, deal_date, amount::float8 AS amount, "
                "currency_id, 1 AS lead_count FROM leads"
            )
        else:
            activity = SQL(
                """
                SELECT partner_id, company_id, false AS is_deal, NULL::date AS deal_date,
                       0::float8 AS amount, NULL::integer AS currency_id, 1 AS lead_count
                  FROM leads
                 UNION ALL
                SELECT partner_id, company_id, true, deal_date, amount::float8, currency_id, 0
                  FROM (%s) deals
                """,
                source,
            )
        return SQL(
            """
            WITH leads AS NOT MATERIALIZED (%(leads)s),
            activity AS (%(activity)s),
            converted AS (%(converted)s),
            days AS (
                SELECT partner_id, company_id,
                       CASE WHEN is_deal THEN deal_date END AS deal_date,
                       sum(lead_count) AS lead_count,
                       count(*) FILTER (WHERE is_deal AND amount >= 0) AS n,
                       sum(amount) FILTER (WHERE is_deal) AS amount
                  FROM converted
                 -- an extended source need not filter: only what was asked
                 WHERE company_id = ANY(%(companies)s) %(partner_filter)s
                 GROUP BY 1, 2, 3
            )
            SELECT company_id, partner_id,
                   sum(lead_count)::integer AS opportunity_count,
                   COALESCE(sum(n), 0)::integer AS won_count,
                   count(*) FILTER (WHERE n > 0)::integer AS deal_days,
                   min(deal_date) FILTER (WHERE n > 0) - DATE '1970-01-01' AS first_deal_date,
                   max(deal_date) FILTER (WHERE n > 0) - DATE '1970-01-01' AS last_deal_date,
                   (array_agg(deal_date ORDER BY deal_date DESC)
                        FILTER (WHERE n > 0))[2] - DATE '1970-01-01' AS prev_deal_date,
                   COALESCE(sum(amount), 0) AS won_revenue
              FROM days GROUP BY partner_id, company_id
            """,
            leads=self._lead_rows_sql(company_ids, partner_ids),
            activity=activity,
            companies=list(company_ids),
            partner_filter=SQL("AND partner_id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL(),
            converted=self._convert_deals_sql(
                SQL("activity"), today, extra_columns=["is_deal", "lead_count"]
            ),
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
        frame = self._read_frame(self._aggregate_sql([company.id], today, commercial))
        model = self.env["crm.retention.model"]._get_for_company(company)
        batch = self._copy_batch(self._compute_metrics(company, model, frame, today))
        self._apply_batch(company, batch, today, SQL("p.partner_id = ANY(%s)", commercial))
        self._sync_owners(company, commercial)
        # a deal won during a campaign's outcome window retains its member now
        self.env["crm.retention.campaign.member"].sudo()._refresh_outcomes(
            company=company, partner_ids=commercial, today=today
        )

    @api.model
    def _sync_owners(self, company=None, partner_ids=None, full=False):
        """Set each profile's salesperson (``user_id``): the customer's own
        salesperson, else the salesperson of its latest opportunity in the
        profile's company. One statement; only the profiles whose owner
        changes are written. Returns how many changed.

        With ``partner_ids`` (a customer or a deal changed), those customers
        are looked at; over a whole company (the nightly run), only the
        profiles without an owner or whose customer's salesperson differs:
        a change of an opportunity's salesperson already went through
        ``_recompute_partners``, so the nightly run does not read every lead
        again (``full`` does, for a migration).
        """
        where = [SQL("TRUE")]
        if company:
            where.append(SQL("pr.company_id = %s", company.id))
        if partner_ids is not None:
            where.append(SQL("pr.partner_id = ANY(%s)", list(partner_ids)))
        elif not full:
            where.append(
                SQL(
                    "(pr.user_id IS NULL OR (rp.user_id IS NOT NULL "
                    "AND rp.user_id IS DISTINCT FROM pr.user_id))"
                )
            )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            UPDATE crm_customer_profile target
               SET user_id = o.owner_id
              FROM (
                SELECT pr.id, COALESCE(rp.user_id, (
                           SELECT l.user_id
                             FROM res_partner c
                             JOIN crm_lead l ON l.partner_id = c.id
                            WHERE c.commercial_partner_id = pr.partner_id
                              AND l.company_id = pr.company_id
                              AND l.user_id IS NOT NULL AND l.type = 'opportunity'
                            ORDER BY COALESCE(l.date_closed, l.create_date) DESC, l.id DESC
                            LIMIT 1)) AS owner_id
                  FROM crm_customer_profile pr
                  JOIN res_partner rp ON rp.id = pr.partner_id
                 WHERE %(where)s
              ) o
             WHERE target.id = o.id AND target.user_id IS DISTINCT FROM o.owner_id
                """,
                where=SQL(" AND ").join(where),
            )
        )
        changed = self.env.cr.rowcount
        if changed:
            self.invalidate_model(["user_id"])
        return changed

    @api.model
    def _campaign_attributed_sql(self, profile_id, today):
        """SQL condition: the profile ``profile_id`` (an SQL expression) is in
        a campaign that can claim its comeback, i.e. a treated member,
        contacted by a step, inside its outcome window on ``today``.

        Both stage writers use it (the batch upsert of the recompute and
        ``_evaluate_stages``), so a comeback is credited the same way
        whichever path finds it.
        """
        return SQL(
            """EXISTS (
                SELECT 1 FROM crm_retention_campaign_member cm
                 WHERE cm.profile_id = %(profile)s AND cm.member_group = 'treated'
                   AND cm.contacted_date IS NOT NULL
                   AND cm.enrol_date <= %(today)s AND cm.window_end_date >= %(today)s
            )""",
            profile=profile_id,
            today=today,
        )

    @api.model
    def _history_reason_sql(self, profile_id, stage_kind, reason, today):
        """The history reason of a stage change: "campaign" for a comeback
        (Won back / Active) that a campaign can claim, else ``reason``."""
        self.env["crm.retention.campaign.member"].flush_model(
            ["profile_id", "member_group", "contacted_date", "enrol_date", "window_end_date"]
        )
        return SQL(
            "CASE WHEN %(kind)s IN ('won_back', 'active') AND %(attributed)s "
            "THEN 'campaign' ELSE %(reason)s END",
            kind=stage_kind,
            attributed=self._campaign_attributed_sql(profile_id, today),
            reason=reason,
        )

    @api.model
    def _compute_metrics(self, company, model, frame, today):
        """Metrics of the aggregated customers in ``frame`` (rows of
        ``_aggregate_sql``) with the company's churn model, as a frame in
        partner order (``lib.lifecycle.compute_metrics``).

        The frame is computed by chunks of ``METRICS_CHUNK`` customers (the
        memory of the model's temporaries stays bounded), by threads, one
        per core (up to ``METRICS_THREADS``): numpy and scipy's special
        functions release the GIL, so the model's hypergeometric functions
        run on every core.
        """
        settings = self.env["crm.retention.model"]._get_settings()
        kwargs = {
            "today": today,
            "params": model._get_params(),
            "typical_interval_days": model.typical_interval_days
            or settings["default_interval_days"],
            "settings": settings,
        }
        # in partner order, as the batches read them (sorting the input is
        # cheaper than sorting the wider result)
        frame = frame.sort_values("partner_id", kind="stable")
        # (an empty frame is one chunk: its result still has every column)
        chunks = [
            frame.iloc[i : i + METRICS_CHUNK] for i in range(0, len(frame), METRICS_CHUNK)
        ] or [frame]
        threads = min(os.cpu_count() or 1, METRICS_THREADS, len(chunks))
        if threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="crm_retention_metrics") as pool:
                parts = list(
                    pool.map(lambda chunk: lifecycle.compute_metrics(chunk, **kwargs), chunks)
                )
        else:
            parts = [lifecycle.compute_metrics(chunk, **kwargs) for chunk in chunks]
        metrics = pd.concat(parts, ignore_index=True)
        metrics["company_id"] = company.id
        return metrics

    @api.model
    def _apply_batch(self, company, source, today, scope, run_stamp=None):
        """Bring the company's profiles selected by ``scope`` (an SQL
        condition on the profile, alias ``p``) in line with the metrics of
        the relation ``source`` (rows of the batch layout, see
        ``_store_metrics``, for customers within ``scope``): evaluate their
        stages and log changes. A profile in scope but absent from
        ``source`` (its deals moved to another partner, were deleted or
        lost) gets its metrics reset.

        ``run_stamp`` (SQL, a timestamp): when the deals of ``source`` were
        read, for a batch of the full recompute; a profile refreshed after
        that (``metrics_stamp`` newer) is left alone. Without it (the
        incremental path) the metrics are fresh: stamped with the clock.
        """
        cr = self.env.cr
        cases, inline = self._stage_cases(company)
        with self._timed("write profiles, stages, history"):
            if inline:
                # the usual case: the rules read the profile's own columns, so
                # they are evaluated on the batch's new values inside the write
                self._upsert_batch(cases, today, source, company, scope, run_stamp=run_stamp)
                return
            self._upsert_batch(None, today, source, company, scope, run_stamp=run_stamp)
            cr.execute(
                SQL(
                    "SELECT p.id FROM crm_customer_profile p WHERE p.company_id = %s AND %s",
                    company.id,
                    scope,
                )
            )
            self._evaluate_stages(company, [row[0] for row in cr.fetchall()], today)

    @api.model
    def _batch_columns_sql(self):
        """Column definitions of the batch layout: ``partner_id``,
        ``company_id`` and the metrics as raw values (see ``BATCH_TYPES``)."""
        return SQL(", ").join(
            # the types are this module's constants
            SQL("%s %s", SQL.identifier(c), SQL(BATCH_TYPES[self._batch_kind(c)][0]))
            for c in ["partner_id", "company_id", *METRIC_COLUMNS]
        )

    @api.model
    def _copy_batch(self, metrics):
        """Load metrics into the temp table crm_retention_batch (the
        customers of an incremental update) and return it as a relation."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "CREATE TEMP TABLE IF NOT EXISTS crm_retention_batch (%s) ON COMMIT DROP",
                self._batch_columns_sql(),
            )
        )
        cr.execute("TRUNCATE crm_retention_batch")
        self._store_metrics(metrics, "crm_retention_batch")
        # an index and fresh statistics, so the planner joins the batch to the
        # profiles by hash or index, never by nested loops over a seq scan
        cr.execute(
            "CREATE INDEX IF NOT EXISTS crm_retention_batch_partner_idx "
            "ON crm_retention_batch (partner_id)"
        )
        cr.execute("ANALYZE crm_retention_batch")
        return SQL.identifier("crm_retention_batch")

    @api.model
    def _store_metrics(self, metrics, table):
        """Append ``metrics`` to ``table`` (batch layout) by binary COPY.

        Fixed-width columns built with numpy: formatting a CSV (pandas
        ``to_csv``) cost more than the whole profile write. The table holds
        raw values (int4, floats scaled to int8, dates as days since 1970
        with ``BATCH_NULL_DATE`` for none, selections as their index);
        ``_batch_value_sql`` turns them into the profile's types.
        """
        for start in range(0, len(metrics), METRICS_CHUNK):
            self._store_metrics_chunk(metrics.iloc[start : start + METRICS_CHUNK], table)

    @api.model
    def _store_metrics_chunk(self, metrics, table):
        columns = ["partner_id", "company_id", *METRIC_COLUMNS]
        dtype = [("count", ">i2")]
        for c in columns:
            dtype += [(f"{c}__len", ">i4"), (c, BATCH_TYPES[self._batch_kind(c)][1])]
        rows = np.empty(len(metrics), dtype=dtype)
        rows["count"] = len(columns)
        for c in columns:
            kind = self._batch_kind(c)
            rows[f"{c}__len"] = rows.dtype[c].itemsize
            values = metrics[c]
            if kind == "date":
                days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
                rows[c] = np.where(np.isnat(days), BATCH_NULL_DATE, days.astype(np.int64))
            elif kind == "selection":
                keys = self._selection_keys(c)
                rows[c] = pd.Categorical(values, categories=keys).codes
            elif kind == "float":
                scaled = values.to_numpy(dtype=float) * 10 ** self._batch_decimals(c)
                rows[c] = np.rint(np.clip(np.nan_to_num(scaled), -9e18, 9e18))
            else:
                rows[c] = values.to_numpy()
        header = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
        # table and column names are this module's constants, not user input
        self.env.cr.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(header + rows.tobytes() + b"\xff\xff"),
        )

    @api.model
    def _batch_kind(self, column):
        field = self._fields[column]
        if field.type in ("integer", "many2one"):
            return "integer"
        if field.type in ("float", "monetary"):
            return "float"
        return field.type  # date, selection

    @api.model
    def _selection_keys(self, column):
        """The keys of the selection ``column``: the batch layout stores a
        value as its position among them."""
        return [key for key, _label in self._fields[column].selection]

    @api.model
    def _batch_decimals(self, column):
        """Decimals a float ``column`` keeps in the batch layout."""
        return BATCH_DECIMALS[self._fields[column].type]

    @api.model
    def _batch_value_sql(self, column, alias="b"):
        """The batch table's raw ``column`` in the profile's type."""
        value = SQL.identifier(alias, column)
        kind = self._batch_kind(column)
        if kind == "date":
            return SQL("DATE '1970-01-01' + NULLIF(%s, %s)", value, BATCH_NULL_DATE)
        if kind == "float":
            return SQL("%s::numeric * %s", value, SQL(f"1e-{self._batch_decimals(column)}"))
        if kind == "selection":
            keys = self._selection_keys(column)
            return SQL("(%s::varchar[])[%s + 1]", keys, value)
        return value

    @api.model
    def _stage_kind_sql(self, stage_id):
        """The kind of the stage ``stage_id`` (an SQL expression) as a CASE
        over the stages: per row, a join to the stage table costs more than
        the rest of the row's write."""
        stages = self.env["crm.lifecycle.stage"].sudo().with_context(active_test=False).search([])
        lookup = SQL("(SELECT s.kind FROM crm_lifecycle_stage s WHERE s.id = %s)", stage_id)
        if not stages:
            return lookup
        whens = SQL(" ").join(SQL("WHEN %s THEN %s", stage.id, stage.kind) for stage in stages)
        return SQL("CASE %s %s ELSE %s END", stage_id, whens, lookup)

    @api.model
    def _upsert_batch(self, cases, today, source, company, scope, reason="rule", run_stamp=None):
        """Write the batch ``source`` into the company's profiles selected by
        ``scope`` (see ``_apply_batch``) in one statement: update the
        profiles whose metrics or stage change, reset those absent from the
        batch, insert the new ones, and, when ``cases`` (the company's stage
        rules, see ``_stage_cases``) are given, set their stage in the same
        row write and log each change (history row, chatter note, partner's
        stage mirror).

        Fresher metrics win: a batch of the full run (``run_stamp``, when
        the run read the deals) skips the profiles stamped after it
        (``metrics_stamp``: an incremental refresh after a deal was won while
        the run was going, or before a crashed run resumed); without
        ``run_stamp`` the profiles written are stamped with the clock.

        One write per profile and none for unchanged ones: the daily run
        rewrites only customers whose values moved (``metrics_date`` alone
        does not count), and those rewrites are HOT updates (no indexed
        column changes, free space kept by the table's fillfactor). The
        scope is a range of partner ids (a batch of the full run) or a list
        of them: the profiles are read by their (partner_id, company_id)
        index, never all hashed for each batch.
        """
        now = fields.Datetime.now()
        uid = self.env.uid
        columns = [
            name
            for name, field in self._fields.items()
            if field.store and field.column_type and name != "id"
        ]
        batch_columns = {"partner_id", "company_id", *METRIC_COLUMNS}
        # deal days since the customer last lapsed (0, 1, or 2 meaning "2 or
        # more"): from the profile's lapse date, known here, and the deals;
        # >= because the nightly run may mark a lapse the day the customer buys
        last, prev = (
            self._batch_value_sql("last_deal_date"),
            self._batch_value_sql("prev_deal_date"),
        )
        derived = {
            "deals_since_lapse": SQL(
                "CASE WHEN p.lapsed_date IS NULL OR %(last)s IS NULL OR %(last)s < p.lapsed_date "
                "THEN 0 WHEN %(prev)s >= p.lapsed_date THEN 2 ELSE 1 END",
                last=last,
                prev=prev,
            ),
        }
        written = [*METRIC_COLUMNS, *derived]

        # a profile absent from the batch gets these (its customer has no
        # opportunity left): zeros, no dates, low risk
        reset = {"risk_level": SQL("'low'"), "metrics_date": SQL("%s::date", today)}

        def value(name):
            if name in derived:
                return derived[name]
            if name in ("partner_id", "company_id"):
                return SQL("COALESCE(%s, %s)", SQL.identifier("b", name), SQL.identifier("p", name))
            if name in batch_columns:
                if self._batch_kind(name) == "date" and name not in reset:
                    return self._batch_value_sql(name)
                return SQL(
                    "COALESCE(%s, %s)", self._batch_value_sql(name), reset.get(name, SQL("0"))
                )
            return SQL.identifier("p", name)

        # the profile as it will be: a row alias named like the table, so the
        # rules' WHERE clauses (crm_customer_profile.col) read the new values
        current = SQL(", ").join(
            SQL("%s AS %s", value(name), SQL.identifier(name)) for name in ["id", *columns]
        )
        rule_stage = SQL("CASE %s END", SQL(" ").join(cases)) if cases else SQL("NULL::integer")
        compared = [c for c in written if c != "metrics_date"]
        metric_set = SQL(", ").join(
            SQL("%s = r.%s", SQL.identifier(c), SQL.identifier(c)) for c in written
        )
        metric_cols = SQL(", ").join(SQL.identifier(c) for c in written)
        metric_vals = SQL(", ").join(SQL.identifier("r", c) for c in written)
        History = self.env["crm.lifecycle.history"]
        # the stage kind CASEs inflate the plan's cost past the JIT threshold:
        # compiling it would cost more than running it (LOCAL: this transaction)
        self.env.cr.execute("SET LOCAL jit = off")
        self.env.cr.execute(
            SQL(
                """
                WITH ruled AS (
                    -- the columns written and logged: a narrow row to hold
                    SELECT %(kept)s, %(new_kind)s AS new_kind, %(old_kind)s AS old_kind
                      FROM (
                        SELECT crm_customer_profile.*,
                               CASE WHEN COALESCE(crm_customer_profile.stage_locked, false)
                                    THEN crm_customer_profile.stage_id
                                    ELSE COALESCE(%(rule_stage)s, crm_customer_profile.stage_id)
                               END AS new_stage
                          FROM (SELECT %(current)s
                                  FROM %(source)s b
                                  FULL JOIN (SELECT * FROM crm_customer_profile p
                                              WHERE p.company_id = %(company)s AND %(scope)s) p
                                    ON p.partner_id = b.partner_id
                                 -- OFFSET 0: computed once per row, not once per
                                 -- reference of a stage rule to the column
                                 OFFSET 0
                               ) AS crm_customer_profile
                      ) r0
                ),
                updated AS (
                    UPDATE crm_customer_profile p
                       SET %(metric_set)s,
                           stage_id = r.new_stage,
                           stage_kind = r.new_kind,
                           stage_date = CASE WHEN r.new_stage IS DISTINCT FROM r.stage_id
                                             THEN %(now)s ELSE p.stage_date END,
                           lapsed_date = CASE WHEN r.new_stage IS DISTINCT FROM r.stage_id
                                               AND r.new_kind IN ('at_risk', 'lost')
                                               AND COALESCE(r.old_kind, '')
                                                   NOT IN ('at_risk', 'lost')
                                              THEN %(today)s ELSE p.lapsed_date END,
                           metrics_stamp = %(stamp)s, metrics_xid = pg_current_xact_id(),
                           write_uid = %(uid)s, write_date = %(now)s
                      FROM ruled r
                     WHERE p.id = r.id AND p.company_id = %(company)s AND %(scope)s
                       AND ((%(old)s) IS DISTINCT FROM (%(new)s)
                            OR r.new_stage IS DISTINCT FROM r.stage_id)
                       %(fresher)s
                 RETURNING p.id, p.partner_id, p.company_id, r.stage_id AS from_stage_id,
                           r.new_stage AS stage_id, r.stage_date AS old_date
                ),
                inserted AS (
                    INSERT INTO crm_customer_profile
                           (partner_id, company_id, %(metric_cols)s, stage_id, stage_kind,
                            stage_date, stage_locked, lapsed_date, metrics_stamp, metrics_xid,
                            create_uid, create_date, write_uid, write_date)
                    SELECT r.partner_id, r.company_id, %(metric_vals)s, r.new_stage, r.new_kind,
                           CASE WHEN r.new_stage IS NOT NULL THEN %(now)s END, false,
                           CASE WHEN r.new_kind IN ('at_risk', 'lost') THEN %(today)s END,
                           %(stamp)s, pg_current_xact_id(),
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM ruled r
                     WHERE r.id IS NULL
                 RETURNING id, partner_id, company_id, stage_id
                ),
                changes AS (
                    SELECT id, partner_id, company_id, from_stage_id, stage_id, old_date
                      FROM updated WHERE stage_id IS DISTINCT FROM from_stage_id
                     UNION ALL
                    SELECT id, partner_id, company_id, NULL::integer, stage_id, NULL::timestamp
                      FROM inserted WHERE stage_id IS NOT NULL
                ),
                history AS (
                    INSERT INTO crm_lifecycle_history
                           (profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                            reason, user_id, duration_days,
                            create_uid, create_date, write_uid, write_date)
                    SELECT ch.id, ch.partner_id, ch.company_id, ch.from_stage_id, ch.stage_id,
                           %(now)s, %(reason)s, %(uid)s,
                           COALESCE(EXTRACT(EPOCH FROM (%(now)s - ch.old_date)) / 86400.0, 0),
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM changes ch
                      LEFT JOIN crm_lifecycle_stage cs ON cs.id = ch.stage_id
                 RETURNING id, partner_id, from_stage_id, stage_id, reason, date, user_id
                ),
                %(messages)s,
                mirror AS (%(mirror)s)
                SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM inserted),
                       (SELECT count(*) FROM changes)
                """,
                current=current,
                kept=SQL(", ").join(
                    SQL.identifier("r0", c)
                    for c in ["id", "partner_id", "company_id", "stage_id", "stage_date"]
                    + ["new_stage", *written]
                ),
                new_kind=self._stage_kind_sql(SQL("r0.new_stage")),
                # the database clock: the run's stamp is read from it too
                stamp=run_stamp
                if run_stamp is not None
                else SQL("(clock_timestamp() AT TIME ZONE 'UTC')"),
                fresher=self._fresher_than_run_sql(company, run_stamp)
                if run_stamp is not None
                else SQL(),
                old_kind=self._stage_kind_sql(SQL("r0.stage_id")),
                source=source,
                company=company.id,
                scope=scope,
                rule_stage=rule_stage,
                metric_set=metric_set,
                metric_cols=metric_cols,
                metric_vals=metric_vals,
                old=SQL(", ").join(SQL.identifier("p", c) for c in compared),
                new=SQL(", ").join(SQL.identifier("r", c) for c in compared),
                now=now,
                today=today,
                uid=uid,
                # a comeback inside a campaign's window is the campaign's
                reason=self._history_reason_sql(SQL("ch.id"), SQL("cs.kind"), reason, today),
                messages=History._partner_message_sql(SQL("history")),
                mirror=self._partner_stage_sql(SQL("changes")),
            )
        )
        counts = self.env.cr.fetchone()
        self.invalidate_model()
        History.invalidate_model()
        self.env["mail.message"].invalidate_model()
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id", "message_ids"])
        return counts

    @api.model
    def _stage_cases(self, company, profile_ids=None):
        """The company's stage rules as ``WHEN condition THEN stage_id`` SQL
        clauses, in sequence, and whether they can be evaluated inline.

        The ORM turns each rule domain into SQL, so any domain the widget can
        build works. A rule on the profile's own columns is its WHERE clause
        (alias ``crm_customer_profile``) and can be evaluated on any row
        aliased so, such as a batch's new values ("inline"). A rule through
        relations becomes an ``id IN (sub-select)`` over the stored profiles
        ``profile_ids``; with such a rule the result is not inline (or, when
        ``profile_ids`` is None, the rule is left out). A rule that is broken
        (a field removed since) or fails in SQL is skipped and logged.
        """
        Profile = self.sudo().with_context(active_test=False)
        stages = self.env["crm.lifecycle.stage"].sudo()._get_company_stages(company)
        cases = []
        inline = True
        for stage in stages:
            try:
                domain = stage._get_rule_domain()
                # evaluated as superuser: only what a rule may read (a rule
                # saved before the check existed, or written in SQL)
                stage._check_rule_leaves(expression.normalize_domain(domain))
                query = Profile._where_calc(domain)
            except Exception:  # noqa: BLE001 - a rule broken by a later field change
                _logger.exception("Skipping lifecycle stage %s: invalid rule", stage.id)
                continue
            if query._joins:
                inline = False
                if profile_ids is None:
                    continue
                # a rule through relations: a sub-select limited to the batch
                query.add_where(SQL("%s = ANY(%s)", SQL.identifier(query.table, "id"), profile_ids))
                condition = SQL(
                    "crm_customer_profile.id IN (%s)",
                    query.subselect(SQL.identifier(query.table, "id")),
                )
            else:
                condition = query.where_clause or SQL("TRUE")
            try:
                # a rule can be valid Python yet fail in SQL (a bad date
                # value): it must not block every deal of the company. LIMIT 0
                # plans the condition (literals are cast then) without a scan.
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        SQL("SELECT 1 FROM crm_customer_profile WHERE %s LIMIT 0", condition)
                    )
            except Exception:  # noqa: BLE001
                _logger.exception("Skipping lifecycle stage %s: its rule fails", stage.id)
                continue
            cases.append(SQL("WHEN %s THEN %s", condition, stage.id))
        return cases, inline

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
        cases, _inline = self._stage_cases(company, profile_ids)
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
                       %(reason)s,
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
                reason=self._history_reason_sql(
                    SQL("changed.id"), SQL("changed.new_kind"), reason, today
                ),
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

        1. aggregate every deal of the company (one query, streamed here by
           COPY), refit the model on it, compute every customer's metrics
           (vectorised) and store them in the work table; commit;
        2. walk the work table in partner-id order by batches of
           ``batch_size``; each batch writes profiles, stages and history in
           one statement and commits, moving the run's cursor;
        3. mark the run done.

        A run that dies half-way leaves committed batches consistent
        (profile, stage and history change together) and its state
        ``running``: the next call resumes at the cursor with the same
        parameters and the same "today". A batch never overwrites a profile
        refreshed after the run read the deals (the model's ``run_stamp``,
        see ``_upsert_batch``): a deal won while the run goes, or before it
        resumes, keeps its effect.

        One run per company at a time (``_company_run_lock``): a second one
        raises ``RecomputeRunning``, a UserError.
        """
        with self._company_run_lock(company):
            return self._recompute_company_locked(company, batch_size=batch_size, today=today)

    def _recompute_company_locked(self, company, batch_size=None, today=None):
        """The run of ``_recompute_company``, under its company's lock."""
        cr = self.env.cr
        Model = self.env["crm.retention.model"].sudo()
        model = Model._get_for_company(company)
        # out-of-range thresholds raise here, before anything is written
        settings = Model._get_settings()
        batch_size = batch_size or settings["batch_size"]
        today = today or fields.Date.context_today(self)
        work = SQL.identifier(self._work_table_name(company))
        done_table = SQL.identifier(self._work_table_name(company, "done"))
        if model.run_state == "running" and self._work_table_rows(company) != model.run_total:
            # the unlogged work table was emptied or dropped (server crash,
            # module update): start over
            _logger.warning("Lifecycle work table lost for company %s: restarting", company.id)
            model.run_state = "idle"
        if model.run_state != "running":
            self._stamp_run(company, model)
            with self._timed("aggregate deals"):
                # hash aggregates of a large company spill to disk with the
                # default 4 MB; no JIT: compiling this query costs more than
                # it saves; LOCAL: until this transaction commits. COPY TO
                # runs the query with parallel workers and streams it here.
                cr.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
                frame = self._read_frame(self._aggregate_sql([company.id], today))
            with self._timed("fit model"):
                model._fit(frame, today)
            with self._timed("metrics (numpy)"):
                metrics = self._compute_metrics(company, model, frame, today)
                del frame
            with self._timed("store work table"):
                # a new table each run: no dead rows of the last run to skip,
                # and the key built once on the loaded (sorted) rows
                cr.execute(SQL("DROP TABLE IF EXISTS %s", work))
                cr.execute(SQL("CREATE UNLOGGED TABLE %s (%s)", work, self._batch_columns_sql()))
                self._store_metrics(metrics, self._work_table_name(company))
                cr.execute(SQL("ALTER TABLE %s ADD PRIMARY KEY (partner_id)", work))
                cr.execute(SQL("COMMENT ON TABLE %s IS %s", work, self._work_layout()))
                cr.execute(SQL("ANALYZE %s", work))
                # the batches applied (their lower bound), in their own
                # transactions: a resumed run skips them
                cr.execute(SQL("DROP TABLE IF EXISTS %s", done_table))
                cr.execute(SQL("CREATE UNLOGGED TABLE %s (lo integer PRIMARY KEY)", done_table))
            model.write(
                {
                    "run_state": "running",
                    "run_cursor": 0,
                    "run_date": today,
                    "run_total": len(metrics),
                }
            )
            del metrics
            with self._timed("commit"):
                self._commit_progress()
        today = model.run_date or today
        cr.execute(SQL("SELECT lo FROM %s", done_table))
        applied = {row[0] for row in cr.fetchall()}
        ranges = [
            (lo, hi)
            for lo, hi in self._work_ranges(company, model.run_cursor, batch_size)
            if lo not in applied
        ]
        workers = self._parallel_batches()
        if workers > 1 and len(ranges) > 1:
            with self._timed("write profiles, stages, history"):
                self._apply_ranges_in_parallel(company, model, ranges, today, workers, batch_size)
        else:
            for number, (lo, hi) in enumerate(ranges, 1):
                self._apply_range(company, lo, hi, today)
                if hi is not None:
                    model.run_cursor = hi
                    with self._timed("commit"):
                        self._commit_progress(done=min(number * batch_size, model.run_total))
        cr.execute(SQL("DROP TABLE %s, %s", work, done_table))
        with self._timed("owners"):
            self._sync_owners(company)
        model.write({"run_state": "done", "run_cursor": 0, "last_run_date": fields.Datetime.now()})
        self._commit_progress(done=model.run_total)
        return model.run_total

    @contextlib.contextmanager
    def _company_run_lock(self, company):
        """Hold the lock of ``company``'s recompute run for the whole run;
        raise ``RecomputeRunning`` when another run holds it.

        A PostgreSQL advisory lock of the session when the run commits by
        batches (so it survives the commits, with no gap another run could
        slip into), released at the end whatever happens; of the transaction
        otherwise (install, tests: one transaction). The cron and the
        "Recompute now" button both take it."""
        cr = self.env.cr
        keys = (RUN_LOCK_KEY, int(company.id))
        session = self._can_commit()
        cr.execute(
            SQL(
                "SELECT %s(%s, %s)",
                SQL("pg_try_advisory_lock" if session else "pg_try_advisory_xact_lock"),
                *keys,
            )
        )
        if not cr.fetchone()[0]:
            raise RecomputeRunning(self._run_locked_message(company))
        if not session:
            yield
            return
        try:
            yield
        except Exception:
            # the unlock below needs a live transaction; the caller rolls
            # back on an error anyway (the committed batches stay)
            cr.rollback()
            raise
        finally:
            cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", *keys))

    @api.model
    def _run_locked_message(self, company):
        return self.env._(
            "A recompute of %(company)s is already running; try again in a few minutes.",
            company=company.name,
        )

    @api.model
    def _fresher_than_run_sql(self, company, run_stamp):
        """The condition under which a batch of ``company``'s full run may
        overwrite a profile ``p``: its metrics were read no later than the run
        read the deals (``metrics_stamp``), and the transaction that wrote
        them had committed when the run took its snapshot (``metrics_xid``
        visible in ``run_snapshot``). The stamp alone misses a refresh that
        read its deal just before the run started but committed after: the
        run did not see that deal.

        In one transaction (install, tests) every write has the same id and
        the stamps decide."""
        return SQL(
            """AND (p.metrics_stamp IS NULL OR p.metrics_stamp <= %(stamp)s)
               AND (p.metrics_xid IS NULL OR p.metrics_xid = pg_current_xact_id()
                    OR pg_visible_in_snapshot(p.metrics_xid,
                         (SELECT m.run_snapshot FROM crm_retention_model m
                           WHERE m.company_id = %(company)s)))""",
            stamp=run_stamp,
            company=company.id,
        )

    @api.model
    def _stamp_run(self, company, model):
        """Note on ``model`` when the new run of ``company`` reads the deals
        (``run_stamp``, database clock, microseconds kept: written in SQL).

        Where the run commits, it first starts a fresh transaction: its
        snapshot, taken at its first statement, sees every deal committed
        by the stamp, the start of the transaction. Otherwise (install,
        tests) there is one transaction and the stamp is this statement's
        time. The run's snapshot is kept too (``run_snapshot``, see
        ``_fresher_than_run_sql``)."""
        committed = self._can_commit()
        if committed:
            self._commit_progress()
        self.env.cr.execute(
            SQL(
                "UPDATE crm_retention_model SET run_stamp = %s AT TIME ZONE 'UTC',"
                " run_snapshot = pg_current_snapshot() WHERE id = %s",
                SQL("transaction_timestamp()" if committed else "statement_timestamp()"),
                model.id,
            )
        )
        model.invalidate_recordset(["run_stamp"])

    @api.model
    def _work_ranges(self, company, cursor, batch_size):
        """The batches left in the work table of ``company`` after partner id
        ``cursor``: (lo, hi] partner-id ranges of ``batch_size`` customers,
        the last one open-ended (hi None) so that every profile beyond the
        last customer with deals is covered too."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT partner_id FROM (SELECT partner_id, row_number() OVER (ORDER BY partner_id)"
                " AS n FROM %s WHERE partner_id > %s) w WHERE mod(n, %s) = 0 ORDER BY partner_id",
                SQL.identifier(self._work_table_name(company)),
                cursor,
                batch_size,
            )
        )
        bounds = [cursor, *(row[0] for row in cr.fetchall()), None]
        return list(itertools.pairwise(bounds))

    @api.model
    def _apply_range(self, company, lo, hi, today):
        """Apply the (lo, hi] partner-id range of the work table of
        ``company`` to its profiles (``_apply_batch``)."""

        def within(alias):
            cond = SQL("%s > %s", SQL.identifier(alias, "partner_id"), lo)
            if hi is None:
                return cond
            return SQL("%s AND %s <= %s", cond, SQL.identifier(alias, "partner_id"), hi)

        source = SQL(
            "(SELECT * FROM %s w WHERE %s)",
            SQL.identifier(self._work_table_name(company)),
            within("w"),
        )
        scope = within("p")
        # the batch statement holds a few wide rows per customer
        self.env.cr.execute("SET LOCAL work_mem = '128MB'")
        # when the run read the deals (one InitPlan per statement)
        run_stamp = SQL(
            "(SELECT m.run_stamp FROM crm_retention_model m WHERE m.company_id = %s)", company.id
        )
        self._apply_batch(company, source, today, scope, run_stamp=run_stamp)
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (lo) VALUES (%s)",
                SQL.identifier(self._work_table_name(company, "done")),
                lo,
            )
        )

    @api.model
    def _parallel_batches(self):
        """How many batches of a full recompute run at once, each in its own
        transaction (setting ``crm_retention.parallel_batches``): the batch
        statement is one PostgreSQL process, so a second one uses a second
        core. 1 when this transaction must not commit (install, tests)."""
        if not self._can_commit():
            return 1
        settings = self.env["crm.retention.model"]._get_settings()
        return max(1, min(settings["parallel_batches"], os.cpu_count() or 1))

    @api.model
    def _apply_ranges_in_parallel(self, company, model, ranges, today, workers, batch_size):
        """Apply ``ranges`` (see ``_work_ranges``) with ``workers`` threads,
        each batch in a transaction of its own that commits.

        The run's cursor only moves past batches that committed in order;
        each batch also records itself as applied in its transaction, so a
        run that dies resumes at the first unfinished batch and skips those
        after it that had committed.
        """
        registry, uid, su = self.env.registry, self.env.uid, self.env.su
        context = {k: v for k, v in self.env.context.items() if k != "lifecycle_timings"}

        def apply(lo, hi):
            with registry.cursor() as cr:
                env = api.Environment(cr, uid, context, su=su)
                env[self._name]._apply_range(env["res.company"].browse(company.id), lo, hi, today)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm_retention")
        try:
            futures = [pool.submit(apply, lo, hi) for lo, hi in ranges]
            # under tests the threads' cursors share this transaction's
            # connection: take turns with them
            shared = registry.test_lock if registry.in_test_mode() else contextlib.nullcontext()
            for number, ((_lo, hi), future) in enumerate(zip(ranges, futures, strict=True), 1):
                future.result()
                if hi is not None:
                    with shared:
                        model.run_cursor = hi
                        self._commit_progress(done=min(number * batch_size, model.run_total))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            # the threads changed profiles, history, partners and messages
            self.env.invalidate_all()

    @api.model
    def _can_commit(self):
        """Whether the batch loops may commit: never while installing
        (demo data runs a recompute) or under tests."""
        registry = self.env.registry
        return bool(
            registry.ready
            and not registry.in_test_mode()
            and not modules.module.current_test
            and not (self.env.su and self.env.context.get("lifecycle_no_commit"))
        )

    @api.model
    def _work_table_name(self, company, suffix=""):
        """The work table of ``company``'s recompute run (see ``WORK_TABLE``),
        or its companion table ``suffix`` (``done``: the batches applied)."""
        return "_".join(filter(None, [WORK_TABLE, str(int(company.id)), suffix]))

    @api.model
    def _work_table_rows(self, company):
        """Rows in the work table of ``company``, None when it does not
        exist or has another layout (the module was updated mid-run)."""
        cr = self.env.cr
        name = self._work_table_name(company)
        cr.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [name])
        if cr.fetchone()[0] != self._work_layout():
            return None
        cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(name)))
        return cr.fetchone()[0]

    @api.model
    def _work_layout(self):
        """What the batch layout's raw values mean (columns, types, decimals,
        selection keys), stamped on each work table: a run resumed after a
        module update that changed it starts over instead of misreading."""
        parts = []
        for c in ["partner_id", "company_id", *METRIC_COLUMNS]:
            kind = self._batch_kind(c)
            detail = ""
            if kind == "float":
                detail = self._batch_decimals(c)
            elif kind == "selection":
                detail = "|".join(self._selection_keys(c))
            parts.append(f"{c}:{BATCH_TYPES[kind][0]}:{detail}")
        return "crm_retention batch layout " + ",".join(parts)

    @api.model
    @contextlib.contextmanager
    def _timed(self, phase):
        """Add the time spent in the block to ``phase`` of the
        ``lifecycle_timings`` dict in the context, if any (the benchmark)."""
        timings = self.env.context.get("lifecycle_timings")
        start = time.perf_counter()
        try:
            yield
        finally:
            if timings is not None:
                timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start

    @api.model
    def _read_frame(self, query):
        """Rows of ``query`` as a DataFrame, through COPY: psycopg2's row
        tuples and Python dates cost more than parsing CSV in C (queries
        give dates as numbers of days, or ISO strings that ``lib.lifecycle``
        reads with pandas)."""
        cr = self.env.cr
        buf = io.BytesIO()
        cr.copy_expert(
            f"COPY ({cr.mogrify(query.code, query.params).decode()}) TO STDOUT "
            "WITH (FORMAT csv, HEADER)",
            buf,
        )
        buf.seek(0)
        return pd.read_csv(buf)

    @api.model
    def _commit_progress(self, done=0, remaining=0):
        """Commit a finished batch (cron and button only, never in tests).

        Shared by the suite's batch loops (recompute, campaign steps, KPI
        snapshots): each calls it after a unit of work that is consistent on
        its own."""
        self.env.flush_all()
        # Each batch is consistent on its own: commit so a crash keeps it.
        if self._can_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
