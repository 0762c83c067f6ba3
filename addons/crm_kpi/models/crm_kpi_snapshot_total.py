from odoo import api, fields, models
from odoo.tools import SQL

from .crm_kpi_snapshot_revenue import REVENUE_COLUMNS

# the slice and the measures shared with crm.kpi.snapshot, in column order
SLICE_COLUMNS = ["date", "company_id", "team_id", "user_id", "country_id", "stage_id", "stage_kind"]
MEASURE_COLUMNS = [
    "profile_open",
    "profile_close",
    "customer_open",
    "customer_close",
    "active_open",
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
]


class CrmKpiSnapshotTotal(models.Model):
    """``crm.kpi.snapshot`` summed over customer tags.

    Why a second table: each set of tags is a slice of the snapshot, so a
    day holds tens of times more rows than without them (2,300 instead of
    300 on the benchmark's million customers with three tags), and a
    12-month pivot would read a million rows. This rollup keeps one row per
    (date, company, team, salesperson, country, stage, acquisition
    channel); ``crm.kpi.customer.report`` reads it whenever a read_group
    does not involve tags (``_rollup_grain``), and the detailed rows or the
    per-tag rollup otherwise. Same figures either way: the rows are sums of
    the snapshot's, and ``row_count`` keeps the number of detailed rows.

    Written by ``crm.kpi.snapshot._snapshot_period`` right after the
    period's detailed rows, in the same transaction; ``init`` fills it from existing
    snapshots when the module is upgraded from a version without it.
    """

    _name = "crm.kpi.snapshot.total"
    _inherit = "crm.kpi.snapshot.mixin"
    _description = "Customer KPI Snapshot (all tags)"
    _order = "date desc, id desc"
    _log_access = False

    medium_id = fields.Many2one("utm.medium", string="Acquisition Channel", readonly=True)
    row_count = fields.Integer(
        readonly=True, help="Detailed snapshot rows summed in this one (the report's counts)."
    )

    def init(self):
        cr = self.env.cr
        table = SQL.identifier(self._table)
        cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS %s ON %s (company_id, date)",
                SQL.identifier(f"{self._table}_company_date_idx"),
                table,
            )
        )
        # upgraded from a version without the rollup: sum the existing days once
        cr.execute(
            SQL(
                "SELECT NOT EXISTS (SELECT 1 FROM %s) AND EXISTS (SELECT 1 FROM crm_kpi_snapshot)",
                table,
            )
        )
        if cr.fetchone()[0]:
            cr.execute(self._rollup_sql(SQL("TRUE")))

    @api.model
    def _rollup_sql(self, condition):
        """INSERT of the rollup of the snapshot rows matching ``condition``
        (an SQL condition on ``crm_kpi_snapshot``, alias ``s``), grouped by
        the slice and ``_rollup_keys``."""
        keys = self._rollup_keys()
        groups = [SQL.identifier("s", c) for c in SLICE_COLUMNS] + [expr for _c, expr in keys]
        return SQL(
            "INSERT INTO %(table)s (%(columns)s, %(measures)s, row_count) "
            "SELECT %(groups)s, %(sums)s, count(*) FROM %(source)s WHERE %(condition)s "
            "GROUP BY %(groups)s",
            table=SQL.identifier(self._table),
            columns=SQL(", ").join(
                SQL.identifier(c) for c in [*SLICE_COLUMNS, *(c for c, _e in keys)]
            ),
            groups=SQL(", ").join(groups),
            measures=SQL(", ").join(SQL.identifier(c) for c in MEASURE_COLUMNS),
            sums=SQL(", ").join(SQL("sum(%s)", SQL.identifier("s", c)) for c in MEASURE_COLUMNS),
            source=self._rollup_source(),
            condition=condition,
        )

    @api.model
    def _rollup_keys(self):
        """[(column, SQL expression)] grouped by besides the slice."""
        return [("medium_id", SQL("s.medium_id"))]

    @api.model
    def _rollup_source(self):
        """The FROM clause of the rollup (the snapshot as ``s``)."""
        return SQL("crm_kpi_snapshot s")

    @api.model
    def _rewrite_day(self, company, day):
        """Replace the rollup of (``company``, ``day``) from its snapshot rows."""
        self._rewrite_period(company, day, day)

    @api.model
    def _rewrite_period(self, company, date_from, date_to):
        """Replace the rollup of ``company``'s days ``date_from`` ..
        ``date_to`` (inclusive) from their snapshot rows."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM %s WHERE company_id = %s AND date BETWEEN %s AND %s",
                SQL.identifier(self._table),
                company.id,
                date_from,
                date_to,
            )
        )
        self.env.cr.execute(
            self._rollup_sql(
                SQL(
                    "s.company_id = %s AND s.date BETWEEN %s AND %s",
                    company.id,
                    date_from,
                    date_to,
                )
            )
        )
