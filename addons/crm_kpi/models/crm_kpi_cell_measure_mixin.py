from odoo import api, models
from odoo.models import parse_read_group_spec


class CrmKpiCellMeasureMixin(models.AbstractModel):
    """Report measures computed per pivot cell instead of summed.

    A rate or a stock at a period's end is not the sum of the rows' rates:
    it must be computed from the sums of the cell's rows (retained / members,
    customers at the cell's last day, ...). A report inheriting this mixin
    returns, from ``_kpi_sql(fname, query)``, the SQL aggregate of such a
    measure for the current group, or None to let Odoo aggregate the field
    as usual. The pivot, the graph, the spreadsheet and the XLSX export then
    all show the same figure for any grouping.
    """

    _name = "crm.kpi.cell.measure.mixin"
    _description = "KPI Report With Per-Cell Measures"
    # measures left blank (not 0) in a cell where they cannot be measured: a
    # rate whose denominator is 0 (SQL NULL), e.g. "SLA met" where no request
    # had a deadline; 0 % would read as "always missed"
    _kpi_blank_when_empty = ()

    @api.model
    def _read_group_empty_value(self, spec):
        if spec != "__count" and parse_read_group_spec(spec)[0] in self._kpi_blank_when_empty:
            return False
        return super()._read_group_empty_value(spec)

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec == "__count":
            return super()._read_group_select(aggregate_spec, query)
        fname, __, __ = parse_read_group_spec(aggregate_spec)
        # the reports override _kpi_sql; the mixin default only means "none"
        expr = self._kpi_sql(fname, query)  # pylint: disable=assignment-from-none
        if expr is None:
            return super()._read_group_select(aggregate_spec, query)
        return expr

    def _kpi_sql(self, fname, query):
        """SQL aggregate of measure ``fname`` over a read_group group, or None."""
        return None
