from . import (
    crm_kpi_cell_measure_mixin,
    crm_kpi_cohort,
    crm_kpi_snapshot,
    crm_kpi_snapshot_tag,
    crm_kpi_snapshot_total,
)
