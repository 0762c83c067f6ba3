from odoo import api, fields, models
from odoo.addons.crm_retention.lib.definitions import LOST_IN_PERIOD
from odoo.tools import SQL

from ..lib import kpi, revenue
from ..models.crm_kpi_snapshot_revenue import REVENUE_COLUMNS
from ..snapshot.revenue import grain_start_sql
from ..tools import selection_of

# Help texts double as the KPI definitions shown in the pivot's measure tooltips.
KPI_HELP = {
    "customers_start": "Customers (stage of kind New, Active, At risk or Won back) at the "
    "start of the period: the close of the day before its first day.",
    "customers_end": "Customers at the end of the period (its last snapshot day).",
    "active_end": "Customers in a stage of kind New, Active or Won back at the end of the period.",
    "acquired_count": "Customers whose first won deal falls in the period.",
    "acquired_rate": "Acquired customers / customers at start x 100.",
    "lost_count": LOST_IN_PERIOD[1],
    "churn_rate": "Lost in period / customers at start x 100.",
    "won_back_count": "Customers who came back from Lost in the period: moved from a stage of "
    "kind Lost to a customer stage (Won back, Active, New or At risk).",
    "reclassified_count": "Customers a change of the stage rules (thresholds, a stage's rule, "
    "the purchases that count) moved into the customers (+) or out of them (-) in the period: "
    "they did nothing, so they are neither acquired, lost nor won back. Customers at end = at "
    "start + acquired + won back - lost + reclassified.",
    "retention_rate": "(Customers at end - acquired - won back - reclassified) / customers at "
    "start x 100: the share of the starting customers not lost in the period (one lost and "
    "won back in the period counts as lost). A partner merge or a cancelled only purchase "
    "moves the customers at end without being lost or won back.",
    "deal_count": "Won deals dated in the period (a refund is not a deal).",
    "revenue": "Won revenue of the period (sum of the deals' expected revenue, in the company "
    "currency at the deal date).",
    "deal_frequency": "Won deals of the period / active customers at the end.",
    "avg_deal_amount": "Revenue / won deals.",
    "clv_end": "Sum of the predicted 12-month CLV of the customers at the end of the period "
    "(current model values).",
    "avg_clv": "Predicted CLV of the customers at the end / customers at the end.",
    "value_at_risk_end": "What the company stands to lose with the customers at the end of the "
    "period: each one's churn probability x its 12-month value if kept (current model values).",
    "revenue_base_start": "Revenue of the 12 months before the period of the customers who "
    "bought in them (positive revenue): the base of revenue churn, NRR and GRR.",
    "revenue_base_end": "Revenue of the 12 months up to the end of the period of the customers "
    "who bought in them.",
    "revenue_churn": "Revenue lost with the customers who entered a stage of kind Lost in the "
    "period: each one's revenue of the 12 months before the day it entered Lost.",
    "revenue_churn_rate": "Revenue churn / 12-month revenue at start x 100.",
    "nrr": "Net revenue retention: the revenue of the 12 months up to the period's end of the "
    "customers who bought in the 12 months before it / their revenue of those 12 months x 100. "
    "Counts their expansion; leaves out new customers. Only for a cell that is one day, week, "
    "month, quarter or year.",
    "grr": "Gross revenue retention: as NRR, each customer's revenue capped at its revenue of "
    "the 12 months before the period (so at most 100 %): what was kept, without expansion. "
    "Only for a cell that is one day, week, month, quarter or year.",
}


class CrmKpiCustomerReport(models.Model):
    """Customer KPIs for any period and slice, over ``crm.kpi.snapshot``.

    Flows (acquired, lost, won back, deals, revenue) add up over the days of
    a period. Stocks do not: "customers at start" of a pivot cell is the sum
    of the ``open`` stocks on the cell's first day, "at end" the ``close``
    stocks on its last day. A slice absent on those days had no customer
    there (it would have a row otherwise), so the first/last day of the
    cell is the right one even when the cell mixes slices.

    Customer tags are a many2many read from the snapshot's relation table
    (the report's ids are the snapshot's): grouping by tag joins the links,
    so a customer with two tags counts under each, while a total or a
    filter on tags counts it once.

    ``_read_group_select`` turns these measures and the ratios into SQL
    aggregates, so the stock pivot, graph, spreadsheet and XLSX export all
    show the same numbers. Definitions: ``KPI_HELP`` and readme/USAGE.md.
    """

    _name = "crm.kpi.customer.report"
    _inherit = ["crm.kpi.cell.measure.mixin"]
    _kpi_blank_when_empty = (
        "acquired_rate", "churn_rate", "retention_rate", "deal_frequency", "avg_deal_amount",
        "avg_clv", "revenue_churn_rate", "nrr", "grr",
    )  # fmt: skip
    _description = "Customer KPIs"
    _auto = False
    _order = "date desc"
    _rec_name = "date"

    date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    stage_id = fields.Many2one("crm.lifecycle.stage", string="Customer Stage", readonly=True)
    stage_kind = fields.Selection(
        selection_of("crm.lifecycle.stage", "kind"),
        readonly=True,
    )
    category_ids = fields.Many2many(
        "res.partner.category",
        "crm_kpi_snapshot_category_rel",
        "snapshot_id",
        "category_id",
        string="Customer Tag",
        readonly=True,
    )
    medium_id = fields.Many2one(
        "utm.medium",
        string="Acquisition Channel",
        readonly=True,
        help="The UTM medium of the customer's first won deal.",
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    # stocks
    customers_start = fields.Integer(
        "Customers at Start", readonly=True, help=KPI_HELP["customers_start"]
    )
    customers_end = fields.Integer(
        "Customers at End", readonly=True, help=KPI_HELP["customers_end"]
    )
    active_end = fields.Integer("Active Customers", readonly=True, help=KPI_HELP["active_end"])
    # flows
    acquired_count = fields.Integer("Acquired", readonly=True, help=KPI_HELP["acquired_count"])
    lost_count = fields.Integer(LOST_IN_PERIOD[0], readonly=True, help=KPI_HELP["lost_count"])
    won_back_count = fields.Integer("Won Back", readonly=True, help=KPI_HELP["won_back_count"])
    reclassified_count = fields.Integer(
        "Reclassified", readonly=True, help=KPI_HELP["reclassified_count"]
    )
    deal_count = fields.Integer("Won Deals", readonly=True, help=KPI_HELP["deal_count"])
    revenue = fields.Monetary(readonly=True, help=KPI_HELP["revenue"])
    clv_end = fields.Monetary("Predicted CLV at End", readonly=True, help=KPI_HELP["clv_end"])
    value_at_risk_end = fields.Monetary(
        "Value at Risk", readonly=True, help=KPI_HELP["value_at_risk_end"]
    )
    # ratios
    acquired_rate = fields.Float("Acquired (%)", readonly=True, help=KPI_HELP["acquired_rate"])
    churn_rate = fields.Float("Churn Rate (%)", readonly=True, help=KPI_HELP["churn_rate"])
    retention_rate = fields.Float(
        "Retention Rate (%)", readonly=True, help=KPI_HELP["retention_rate"]
    )
    deal_frequency = fields.Float(digits=(16, 2), readonly=True, help=KPI_HELP["deal_frequency"])
    avg_deal_amount = fields.Monetary(
        "Average Deal Amount", readonly=True, help=KPI_HELP["avg_deal_amount"]
    )
    avg_clv = fields.Monetary("Average Predicted CLV", readonly=True, help=KPI_HELP["avg_clv"])
    # revenue retention (lib/revenue.py): stocks, flow, ratios
    revenue_base_start = fields.Monetary(
        "12-Month Revenue at Start", readonly=True, help=KPI_HELP["revenue_base_start"]
    )
    revenue_base_end = fields.Monetary(
        "12-Month Revenue at End", readonly=True, help=KPI_HELP["revenue_base_end"]
    )
    revenue_churn = fields.Monetary(readonly=True, help=KPI_HELP["revenue_churn"])
    revenue_churn_rate = fields.Float(
        "Revenue Churn (%)", readonly=True, help=KPI_HELP["revenue_churn_rate"]
    )
    nrr = fields.Float("Net Revenue Retention (%)", readonly=True, help=KPI_HELP["nrr"])
    grr = fields.Float("Gross Revenue Retention (%)", readonly=True, help=KPI_HELP["grr"])
    # the per-grain changes behind NRR and GRR: no measures of their own
    # (aggregator None keeps them out of the pivot's list)
    revenue_change_day = fields.Float(readonly=True, aggregator=None)
    revenue_change_week = fields.Float(readonly=True, aggregator=None)
    revenue_change_week_sun = fields.Float(readonly=True, aggregator=None)
    revenue_change_month = fields.Float(readonly=True, aggregator=None)
    revenue_change_quarter = fields.Float(readonly=True, aggregator=None)
    revenue_change_year = fields.Float(readonly=True, aggregator=None)
    revenue_kept_change_day = fields.Float(readonly=True, aggregator=None)
    revenue_kept_change_week = fields.Float(readonly=True, aggregator=None)
    revenue_kept_change_week_sun = fields.Float(readonly=True, aggregator=None)
    revenue_kept_change_month = fields.Float(readonly=True, aggregator=None)
    revenue_kept_change_quarter = fields.Float(readonly=True, aggregator=None)
    revenue_kept_change_year = fields.Float(readonly=True, aggregator=None)

    _depends = {
        "crm.kpi.snapshot": [
            "date",
            "company_id",
            "team_id",
            "user_id",
            "country_id",
            "stage_id",
            "stage_kind",
            "category_ids",
            "medium_id",
            "customer_open",
            "customer_close",
            "active_close",
            "clv_close",
            "value_at_risk_close",
            "acquired_count",
            "lost_count",
            "won_back_count",
            "reclassified_count",
            "deal_count",
            "revenue",
            *REVENUE_COLUMNS,
        ],
        "crm.kpi.snapshot.total": ["row_count"],
    }

    @property
    def _table_query(self):
        # a read_group may read a rollup instead (_read_group): "total"
        # without tags, "tag" per customer tag (without channels)
        grain = self.env.context.get("crm_kpi_rollup")
        medium = SQL("s.medium_id")
        row_count = SQL("s.row_count")
        tag = SQL("NULL::integer")
        if grain == "tag":
            source = SQL("crm_kpi_snapshot_tag")
            medium = SQL("NULL::integer")
            tag = SQL("s.category_id")
        elif grain:
            source = SQL("crm_kpi_snapshot_total")
        else:
            source = SQL("crm_kpi_snapshot")
            row_count = SQL("1")
        return SQL(
            """
            SELECT s.id, s.date, s.company_id, s.team_id, s.user_id, s.country_id,
                   s.stage_id, s.stage_kind, %(medium)s AS medium_id, c.currency_id,
                   %(row_count)s AS row_count, %(tag)s AS category_id,
                   s.customer_open AS customers_start, s.customer_close AS customers_end,
                   s.active_close AS active_end, s.clv_close AS clv_end,
                   s.value_at_risk_close AS value_at_risk_end,
                   s.acquired_count, s.lost_count, s.won_back_count, s.reclassified_count,
                   s.deal_count, s.revenue,
                   0.0 AS acquired_rate, 0.0 AS churn_rate, 0.0 AS retention_rate,
                   0.0 AS deal_frequency, 0.0 AS avg_deal_amount, 0.0 AS avg_clv,
                   s.revenue_12m_open AS revenue_base_start,
                   s.revenue_12m_close AS revenue_base_end, %(revenue_flows)s,
                   0.0 AS revenue_churn_rate, 0.0 AS nrr, 0.0 AS grr
              FROM %(source)s s
              JOIN res_company c ON c.id = s.company_id
            """,
            source=source,
            medium=medium,
            row_count=row_count,
            tag=tag,
            revenue_flows=SQL(", ").join(SQL.identifier("s", c) for c in REVENUE_COLUMNS[2:]),
        )

    # ------------------------------------------------------------------
    # read_group: stocks at the period's ends and ratios
    # ------------------------------------------------------------------

    # the KPI algebra (stocks, ratios, day folding) is lib/kpi.py
    _KPI_STOCKS = kpi.STOCKS
    _KPI_RATIOS = kpi.RATIOS

    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        """Read a rollup when it has the figures, and compute stocks and
        ratios from one plain GROUP BY by day rather than per-group arrays.

        ``_rollup_grain`` picks ``crm.kpi.snapshot.total`` (no tags) or
        ``crm.kpi.snapshot.tag`` (grouped by tag) when they have the
        figures, else the detailed rows. The per-group arrays of
        ``_kpi_sql`` would walk every row again for each stock of each
        group; instead one GROUP BY adds the day to the groups, and Python
        sums the flows over the days and picks each group's first and last
        day for the stocks; the ratios follow. With a limit, an offset, an
        order on an aggregate or another aggregate than a sum, the flows
        come from the usual read_group and only the stocks from the one by
        day. Same definitions, same figures (a test compares every path); a
        ``having`` or an ``order`` on a KPI measure goes through ``_kpi_sql``
        in SQL.
        """
        grain = self._rollup_grain(domain, groupby, aggregates, having, order)
        source = self.with_context(crm_kpi_rollup=grain) if grain else self
        rows = source._read_group_kpis(domain, groupby, aggregates, having, offset, limit, order)
        # the group values (records) must not carry the switching context
        return [
            tuple(v.with_env(self.env) if isinstance(v, models.BaseModel) else v for v in row)
            for row in rows
        ]

    def _read_group_kpis(self, domain, groupby, aggregates, having, offset, limit, order):
        """``_read_group`` over the snapshot rows of the context's grain
        (detailed or a rollup, see ``_read_group``)."""
        kpis = kpi.KPIS
        wanted = [spec.split(":")[0] for spec in aggregates if spec != "__count"]
        order_terms = self._order_terms(order, groupby)
        if not kpis.intersection(wanted) or having or kpis.intersection(order_terms):
            return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)

        # every measure the requested KPIs need, stocks apart from flows
        stocks, flows = kpi.needed_measures(wanted)
        changes = kpi.period_changes(wanted)
        plain = [spec for spec in aggregates if spec.split(":")[0] not in kpis]
        extra = [f"{name}:sum" for name in flows if f"{name}:sum" not in plain]
        n = len(groupby)
        if not (offset or limit or order_terms) and all(
            spec == "__count" or spec.endswith(":sum") for spec in plain
        ):
            # ordered by groups only: the groups come in the same order by day
            rows, edges = self._kpi_read_by_day(domain, list(groupby), plain + extra, stocks, order)
        else:
            rows = super()._read_group(domain, groupby, plain + extra, having, offset, limit, order)
            edges = self._kpi_read_by_day(domain, list(groupby), [], stocks)[1] if stocks else {}

        result = []
        for row in rows:
            key = row[:n]
            values = dict(zip(plain + extra, row[n:], strict=True))
            measure = {name: values[f"{name}:sum"] or 0 for name in flows}
            for name in stocks:
                measure[name] = edges.get(key, {}).get(name, 0)
            if changes:
                # NRR, GRR: the change of the base since the group's first day
                edge = edges.get(key, {})
                measure[revenue.FIRST_DAY] = edge.get(revenue.FIRST_DAY)
                measure[revenue.LAST_DAY] = edge.get(revenue.LAST_DAY)
                kpi.resolve_period_changes(measure, changes)
            cells = []
            for spec in aggregates:
                name = spec.split(":")[0]
                if name not in kpis:
                    cells.append(values[spec])
                    continue
                got = kpi.kpi_value(name, measure)
                # no denominator: the empty value, as for a NULL in SQL
                cells.append(self._read_group_empty_value(spec) if got is None else got)
            result.append(key + tuple(cells))
        return result

    def _rollup_grain(self, domain, groupby, aggregates, having, order):
        """The rollup a read_group can read instead of the detailed snapshot
        rows, or None. "total" (``crm.kpi.snapshot.total``, per slice and
        acquisition channel) when nothing (nor a record rule) filters,
        groups, aggregates or sorts on customer tags or row ids; "tag"
        (``crm.kpi.snapshot.tag``) when it groups by tag without involving
        channels nor filtering on tags. Same figures as the detailed rows,
        from far fewer rows."""
        rules = self.env["ir.rule"]._compute_domain(self._name, "read")
        used = {spec.split(":")[0].split(".")[0] for spec in aggregates}
        used |= {
            leaf[0].split(".")[0].split(":")[0]
            for leaf in (*domain, *(having or ()), *(rules or ()))
            if isinstance(leaf, list | tuple) and len(leaf) == 3 and isinstance(leaf[0], str)
        }
        used |= set(self._order_terms(order, groupby))
        grouped = {spec.split(":")[0].split(".")[0] for spec in groupby}
        if "id" in used | grouped or "category_ids" in used:
            return None
        if "category_ids" not in grouped:
            return "total"
        # grouping by tag: the tag rollup has one tag per row and no channel,
        # so channels, a groupby spec other than the plain many2many (a
        # subfield) and record rules on tags (which hide some links) need
        # the detailed rows
        # the ORM's own search query of the tags, with the user's rules
        tags = self.env["res.partner.category"].with_context(active_test=False)._search([])
        if "medium_id" in used | grouped or "category_ids" not in groupby or tags.where_clause:
            return None
        return "tag"

    @api.model
    def _order_terms(self, order, groupby):
        """The field names in a read_group ``order`` other than its groupby
        specs (the public read_group orders by the groupby by default)."""
        terms = [part.strip().split(" ")[0] for part in (order or "").split(",") if part.strip()]
        return [term.split(":")[0].split(".")[0] for term in terms if term not in groupby]

    def _read_group_groupby(self, groupby_spec, query):
        # the tag rollup has the tag as a column: no join to the links
        if groupby_spec == "category_ids" and self.env.context.get("crm_kpi_rollup") == "tag":
            return SQL.identifier(query.table, "category_id")
        return super()._read_group_groupby(groupby_spec, query)

    def _kpi_read_by_day(self, domain, groupby, sums, stocks, order=None):
        """One GROUP BY over ``groupby`` and the day: ``(rows, edges)``.

        ``rows`` are ``_read_group`` rows of ``groupby`` with ``sums`` (sums
        and counts) added over the days, in the query's group order;
        ``edges`` is ``{group key: {stock: sum of its rows on the group's
        first (start) or last (end) day}}``.
        """
        day_spec = "date:day"
        if day_spec in groupby:
            day_index, daily_groupby = groupby.index(day_spec), groupby
        else:
            day_index, daily_groupby = len(groupby), [*groupby, day_spec]
        n = len(daily_groupby)
        m = len(sums)
        stock_specs = [f"{name}:sum" for name in stocks]
        # plain sums per day: not the per-group arrays of _kpi_sql
        plain = super(CrmKpiCustomerReport, self.with_context(crm_kpi_plain_sums=True))
        by_day = plain._read_group(domain, daily_groupby, [*sums, *stock_specs], order=order)

        def split(row):
            key = row[:n] if daily_groupby is groupby else row[: n - 1]
            flows = dict(zip(sums, row[n : n + m], strict=True))
            return key, row[day_index], flows, dict(zip(stocks, row[n + m :], strict=True))

        # groups in the query's order (the order of their first row)
        folded = kpi.fold_days(map(split, by_day), days=True)
        if not groupby and not folded:
            # no row at all: one empty group, as read_group without groupby
            folded = {(): {}}
        rows = [
            key
            + tuple(
                self._read_group_empty_value(spec) if values.get(spec) is None else values[spec]
                for spec in sums
            )
            for key, values in folded.items()
        ]
        days = (revenue.FIRST_DAY, revenue.LAST_DAY)
        return rows, {
            key: {
                **{name: values.get(name, 0) for name in stocks},
                **{name: values.get(name) for name in days},
            }
            for key, values in folded.items()
        }

    def _read_group_select(self, aggregate_spec, query):
        # a rollup row stands for row_count detailed rows: counts stay those
        # of the detailed snapshot (list group headers, the pivot's Count)
        if aggregate_spec == "__count" and self.env.context.get("crm_kpi_rollup"):
            return SQL("COALESCE(sum(%s), 0)", SQL.identifier(query.table, "row_count"))
        return super()._read_group_select(aggregate_spec, query)

    def _kpi_sql(self, fname, query):
        """SQL aggregate of KPI ``fname`` over a read_group group, or None
        for a plain field (summed by the standard code)."""

        if self.env.context.get("crm_kpi_plain_sums"):
            return None

        def col(name):
            return self._field_to_sql(self._table, name, query)

        def at(name, edge):
            # sum of ``name`` over the rows of the group's first/last day
            return SQL(
                "(SELECT COALESCE(sum(t.v), 0) FROM unnest(array_agg(%s), array_agg(%s)) "
                "AS t(v, d) WHERE t.d = %s(%s))",
                col(name),
                col("date"),
                SQL(edge),
                col("date"),
            )

        def total(name):
            return SQL("COALESCE(sum(%s), 0)", col(name))

        def ratio(num, den, scale=100.0):
            return SQL("(%s * %s / NULLIF(%s, 0))::float", scale, num, den)

        exprs = {name: at(name, edge) for name, edge in kpi.STOCKS.items()}

        def period_change(prefix):
            # the grain's sum when the group is one period of it, else NULL
            # (lib/revenue.py grain_of)
            first, last = SQL("min(%s)", col("date")), SQL("max(%s)", col("date"))
            return SQL(
                "(CASE %s END)",
                SQL(" ").join(
                    SQL(
                        "WHEN %s = %s AND %s = %s THEN %s",
                        grain_start_sql(grain, first),
                        first,
                        grain_start_sql(grain, last),
                        first,
                        total(f"{prefix}_{grain}"),
                    )
                    for grain in revenue.GRAINS
                ),
            )

        for name, prefix in revenue.PERIOD_CHANGES.items():
            exprs[name] = period_change(prefix)

        def measure(name):
            return exprs[name] if name in exprs else total(name)

        for name, (terms, den, scale) in kpi.RATIOS.items():
            num = SQL(" ").join(
                SQL("- %s", measure(t[1:])) if t.startswith("-") else SQL("+ %s", measure(t))
                for t in terms
            )
            exprs[name] = ratio(SQL("(0 %s)", num), measure(den), scale)
        return exprs.get(fname)
