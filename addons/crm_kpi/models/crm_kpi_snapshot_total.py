from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import selection_of

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
    "acquired_count",
    "lost_count",
    "won_back_count",
    "deal_count",
    "revenue",
]


class CrmKpiSnapshotTotal(models.Model):
    """``crm.kpi.snapshot`` summed over customer tags and acquisition channels.

    Why a second table: each set of tags and each channel is a slice of the
    snapshot, so a day holds tens of times more rows than without them
    (2,300 instead of 50 on the benchmark's million customers), and a
    12-month pivot that groups by neither would read a million rows. This
    rollup keeps one row per (date, company, team, salesperson, country,
    stage); ``crm.kpi.customer.report`` reads it whenever a read_group does
    not involve tags or channels, and the detailed rows otherwise. Same
    figures either way: the rows are sums of the snapshot's.

    Written by ``crm.kpi.snapshot._snapshot_day`` right after the day's
    detailed rows, in the same transaction; ``init`` fills it from existing
    snapshots when the module is upgraded from a version without it.
    """

    _name = "crm.kpi.snapshot.total"
    _description = "Customer KPI Snapshot (all tags and channels)"
    _order = "date desc, id desc"
    _log_access = False

    date = fields.Date(required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    stage_id = fields.Many2one("crm.lifecycle.stage", string="Customer Stage", readonly=True)
    stage_kind = fields.Selection(selection_of("crm.lifecycle.stage", "kind"), readonly=True)
    profile_open = fields.Integer(readonly=True)
    profile_close = fields.Integer(readonly=True)
    customer_open = fields.Integer(readonly=True)
    customer_close = fields.Integer(readonly=True)
    active_open = fields.Integer(readonly=True)
    active_close = fields.Integer(readonly=True)
    clv_close = fields.Float(string="Predicted CLV at Close", readonly=True)
    acquired_count = fields.Integer(readonly=True)
    lost_count = fields.Integer(readonly=True)
    won_back_count = fields.Integer(readonly=True)
    deal_count = fields.Integer(readonly=True)
    revenue = fields.Float(readonly=True)
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
        (an SQL condition on ``crm_kpi_snapshot``, alias ``s``)."""
        slices = SQL(", ").join(SQL.identifier("s", c) for c in SLICE_COLUMNS)
        return SQL(
            "INSERT INTO %(table)s (%(columns)s, %(measures)s, row_count) "
            "SELECT %(slices)s, %(sums)s, count(*) FROM crm_kpi_snapshot s WHERE %(condition)s "
            "GROUP BY %(slices)s",
            table=SQL.identifier(self._table),
            columns=SQL(", ").join(SQL.identifier(c) for c in SLICE_COLUMNS),
            slices=slices,
            measures=SQL(", ").join(SQL.identifier(c) for c in MEASURE_COLUMNS),
            sums=SQL(", ").join(SQL("sum(%s)", SQL.identifier("s", c)) for c in MEASURE_COLUMNS),
            condition=condition,
        )

    @api.model
    def _rewrite_day(self, company, day):
        """Replace the rollup of (``company``, ``day``) from its snapshot rows."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM %s WHERE company_id = %s AND date = %s",
                SQL.identifier(self._table),
                company.id,
                day,
            )
        )
        self.env.cr.execute(
            self._rollup_sql(SQL("s.company_id = %s AND s.date = %s", company.id, day))
        )
