import pandas as pd

from odoo import api, fields, models
from odoo.addons.crm_retention.lib import definitions
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..lib import survival

GROUP_KINDS = [
    ("cohort", "Acquisition Cohort"),
    ("channel", "Acquisition Channel"),
    ("tag", "Customer Tag"),
]


class CrmKpiSurvival(models.Model):
    """Retention curves: the Kaplan–Meier estimate of the share of customers
    not yet Lost, month by month since their first deal, per group.

    One row per (company, group, months since the first deal). A group is
    an acquisition cohort (month of the first deal), an acquisition channel
    (UTM medium of the first deal, as in the customer KPIs) or a customer
    tag (a customer with several tags is in each of their groups). The event
    is the customer's first entry into a stage of kind Lost on or after its
    first deal (a customer won back afterwards still counts as lost then);
    customers never Lost are censored at today. The estimate is a product
    over the group's customers, so no SQL view can give it: ``_refresh``
    reads each customer's duration and event in one query, ``lib.survival``
    computes all the curves at once (numpy, vectorised) and the rows are
    written in one INSERT per company (nightly with the KPI snapshots, or
    the managers' "Refresh" button).

    The rows are company-wide figures (a curve cannot be split by
    salesperson and added up again), so only users who see every customer
    of the company read them (rules: own companies; access: "all documents"
    salespeople, sales and retention managers).
    """

    _name = "crm.kpi.survival"
    _description = "Retention Curve"
    _order = "group_kind, group_name, months_since"
    _log_access = False

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    # the group
    group_kind = fields.Selection(
        GROUP_KINDS,
        string="Grouped By",
        required=True,
        readonly=True,
        help="What the customers of a curve share: the month of their first deal, the "
        "channel (medium) of their first deal, or a customer tag.",
    )
    group_name = fields.Char(
        "Group",
        readonly=True,
        help="The cohort (year-month of the first deal), the channel or the tag, as named "
        "at the last refresh. Empty: customers whose first deal has no channel.",
    )
    cohort_month = fields.Date(
        "Cohort",
        readonly=True,
        help="Acquisition cohorts: the first day of the month of the customers' first deal.",
    )
    medium_id = fields.Many2one(
        "utm.medium",
        string="Acquisition Channel",
        readonly=True,
        help="Acquisition channels: the medium of the customers' first deal.",
    )
    category_id = fields.Many2one(
        "res.partner.category",
        string="Customer Tag",
        readonly=True,
        help="Customer tags: the tag the customers carry today.",
    )
    months_since = fields.Integer(
        "Months Since First Deal",
        readonly=True,
        aggregator=False,
        help="Tenure in months of 30.44 days (a year / 12) from the customer's first deal.",
    )
    # the estimate at that tenure
    survival = fields.Float(
        "Not Yet Lost (%)",
        readonly=True,
        aggregator="avg",
        help="Kaplan-Meier estimate of the share of the group's customers that have not "
        "entered a Lost stage this many months after their first deal, counting only the "
        "customers followed that long (the others are censored, not counted as kept).",
    )
    survival_lower = fields.Float(
        "Lower Bound (95%)",
        readonly=True,
        aggregator="avg",
        help="Lower end of the 95% confidence band (log-log, Greenwood variance).",
    )
    survival_upper = fields.Float(
        "Upper Bound (95%)",
        readonly=True,
        aggregator="avg",
        help="Upper end of the 95% confidence band (log-log, Greenwood variance).",
    )
    customer_count = fields.Integer(
        "Customers in Group",
        readonly=True,
        aggregator="max",
        help="Customers of the group, whatever their tenure.",
    )
    at_risk_count = fields.Integer(
        "Customers Followed",
        readonly=True,
        help="Customers of the group followed at least this many months (not lost before, "
        "first deal long enough ago): the estimate rests on them. Below a few dozen, read "
        "the band, not the line.",
    )
    lost_count = fields.Integer(
        "Lost in the Month",
        readonly=True,
        help="Customers of the group first lost during this month of tenure.",
    )

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    @api.model
    def action_refresh(self):
        """Recompute the curves of the user's companies now (sales and
        retention managers: they are refreshed every night anyway)."""
        user = self.env.user
        if not (
            user.has_group("sales_team.group_sale_manager")
            or user.has_group("crm_retention.group_retention_manager")
        ):
            raise AccessError(
                self.env._(
                    "Only sales and retention managers can recompute the retention curves; "
                    "they are refreshed every night."
                )
            )
        # sudo: a manager (checked above) rebuilds the derived rows of the
        # companies he is allowed in; they are read back under his rules
        self.sudo()._refresh(self.env.companies)
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------

    @api.model
    def _refresh(self, companies=None, today=None):
        """Rewrite the curves of ``companies`` (all by default) as of
        ``today`` (default: today): each company's rows deleted and written
        again in one statement, in the caller's transaction."""
        companies = companies or self.env["res.company"].sudo().search([])
        today = today or fields.Date.context_today(self)
        self.env.flush_all()
        Profile = self.env["crm.customer.profile"]
        cr = self.env.cr
        for company in companies:
            customers = Profile._read_frame(self._durations_sql(company, today))
            tags = Profile._read_frame(self._customer_tags_sql(company))
            cr.execute(SQL("DELETE FROM crm_kpi_survival WHERE company_id = %s", company.id))
            if customers.empty:
                continue
            customers["duration"] = customers["days"] / survival.DAYS_PER_MONTH
            customers["event"] = customers["lost"].astype(bool)
            columns = ["kind", "key", "duration", "event"]
            parts = [
                customers.assign(kind="cohort", key=customers["cohort"])[columns],
                customers.assign(kind="channel", key=customers["medium_id"])[columns],
            ]
            if not tags.empty:
                # a customer with several tags is in each of their curves
                tagged = customers.merge(tags, on="partner_id")
                parts.append(tagged.assign(kind="tag", key=tagged["category_id"])[columns])
            frame = pd.concat(parts, ignore_index=True)
            self._insert(company, survival.km_grid(frame, ["kind", "key"]))
        self.invalidate_model()
        return True

    @api.model
    def _durations_sql(self, company, today):
        """One row per customer of ``company`` with an origin: ``partner_id``,
        ``cohort`` (months since 0001-01: year * 12 + month - 1 of the
        origin), ``days`` (origin to first Lost, else to ``today``),
        ``lost`` and ``medium_id`` (0: none).

        The origin is the profile's first deal date, else (a profile the
        recompute has not dated) the customer's first history row into a
        stage that is not of kind Potential. The event is the first history
        row into a stage of kind Lost on or after the origin day that is no
        partner merge nor change of the stage rules
        (``definitions.NOT_FLOW_REASONS``); a customer one of those moved to
        Lost first is censored on that day (followed up to it, not lost). The
        channel is the medium of the first deal that is not a refund (the
        lowest deal id the same day), as the KPI snapshots define it.

        Why SQL: one pass over the history and one over the deals for every
        customer of the company; the ORM would read them per profile.
        """
        Profile = self.env["crm.customer.profile"]
        return SQL(
            """
            WITH deal_rows AS (%(deals)s),
            first_deal AS (
                SELECT DISTINCT ON (d.partner_id) d.partner_id, d.medium_id
                  FROM deal_rows d
                 WHERE d.company_id = %(company)s AND d.amount >= 0
                 ORDER BY d.partner_id, d.deal_date, %(deal_id)s
            ),
            spans AS (
                SELECT pr.partner_id,
                       COALESCE(pr.first_deal_date,
                                min(h.date) FILTER (WHERE s.kind <> 'potential')::date) AS origin,
                       -- (a merge of two partners, a change of the stage
                       -- rules: no customer leaving)
                       min(h.date) FILTER (
                           WHERE s.kind = 'lost' AND h.reason <> ALL(%(not_flow)s)
                             AND (pr.first_deal_date IS NULL
                                  OR h.date::date >= pr.first_deal_date))::date AS lost_day,
                       -- ... but no customer known to stay either: followed
                       -- up to the day such a move made it Lost
                       min(h.date) FILTER (
                           WHERE s.kind = 'lost' AND h.reason = ANY(%(not_flow)s)
                             AND (pr.first_deal_date IS NULL
                                  OR h.date::date >= pr.first_deal_date))::date AS censor_day
                  FROM crm_customer_profile pr
                  LEFT JOIN crm_lifecycle_history h ON h.profile_id = pr.id
                  LEFT JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                 WHERE pr.company_id = %(company)s
                 GROUP BY pr.id, pr.partner_id, pr.first_deal_date
            )
            SELECT sp.partner_id,
                   (extract(year FROM sp.origin) * 12 + extract(month FROM sp.origin) - 1)::int
                       AS cohort,
                   (LEAST(COALESCE(sp.lost_day, %(today)s), COALESCE(sp.censor_day, %(today)s),
                          %(today)s) - sp.origin) AS days,
                   (sp.lost_day IS NOT NULL AND sp.lost_day <= %(today)s
                    AND (sp.censor_day IS NULL OR sp.lost_day <= sp.censor_day))::int AS lost,
                   COALESCE(fd.medium_id, 0) AS medium_id
              FROM spans sp
              LEFT JOIN first_deal fd ON fd.partner_id = sp.partner_id
             WHERE sp.origin <= %(today)s
            """,
            deals=Profile._deal_rows_sql([company.id]),
            deal_id=Profile._deal_id_sql("d"),
            company=company.id,
            today=today,
            not_flow=list(definitions.NOT_FLOW_REASONS),
        )

    @api.model
    def _customer_tags_sql(self, company):
        """``(partner_id, category_id)`` of the tags of the company's customers."""
        return SQL(
            """
            SELECT rel.partner_id, rel.category_id
              FROM res_partner_res_partner_category_rel rel
              JOIN crm_customer_profile pr ON pr.partner_id = rel.partner_id
             WHERE pr.company_id = %s
            """,
            company.id,
        )

    @api.model
    def _insert(self, company, curves):
        """Write ``curves`` (``km_grid`` rows keyed by ``kind`` and ``key``)
        for ``company`` in one INSERT."""
        kinds = curves["kind"].to_numpy()
        keys = curves["key"].astype(int)
        is_cohort, is_channel, is_tag = (kinds == k for k in ("cohort", "channel", "tag"))
        # a few names (channels and tags), read with the ORM in the user's language
        mediums = self.env["utm.medium"].browse(keys[is_channel & (keys > 0)].unique().tolist())
        tags = self.env["res.partner.category"].browse(keys[is_tag].unique().tolist())
        medium_names = {m.id: m.name for m in mediums.exists()}
        tag_names = {c.id: c.name for c in tags.exists()}
        cohort = pd.Series(None, index=curves.index, dtype=object)
        cohort[is_cohort] = (
            (keys[is_cohort] // 12).astype(str).str.zfill(4)
            + "-"
            + (keys[is_cohort] % 12 + 1).astype(str).str.zfill(2)
        )
        names = cohort.copy()
        names[is_channel] = keys[is_channel].map(medium_names)
        names[is_tag] = keys[is_tag].map(tag_names)
        media = keys.where(is_channel & keys.isin(list(medium_names)))
        categories = keys.where(is_tag & keys.isin(list(tag_names)))

        def ids(series):
            return [int(v) if pd.notna(v) else None for v in series.tolist()]

        def texts(series):
            return [v if isinstance(v, str) else None for v in series.tolist()]

        self.env.cr.execute(
            SQL(
                """
                INSERT INTO crm_kpi_survival (company_id, group_kind, group_name, cohort_month,
                       medium_id, category_id, months_since, survival, survival_lower,
                       survival_upper, customer_count, at_risk_count, lost_count)
                SELECT %s, k, g, c, m, t, p, s, lo, up, n, r, e
                  FROM unnest(%s::varchar[], %s::varchar[], %s::date[], %s::int[], %s::int[],
                              %s::int[], %s::float8[], %s::float8[], %s::float8[], %s::int[],
                              %s::int[], %s::int[]) AS x(k, g, c, m, t, p, s, lo, up, n, r, e)
                """,
                company.id,
                kinds.tolist(),
                texts(names),
                [f"{m}-01" if isinstance(m, str) else None for m in cohort.tolist()],
                ids(media),
                ids(categories),
                curves["period"].astype(int).tolist(),
                (100.0 * curves["survival"]).round(6).tolist(),
                (100.0 * curves["lower"]).round(6).tolist(),
                (100.0 * curves["upper"]).round(6).tolist(),
                curves["customers"].astype(int).tolist(),
                curves["at_risk"].astype(int).tolist(),
                curves["events"].astype(int).tolist(),
            )
        )
