# ruff: noqa: I001 - order matters: a model is defined after the ones it inherits
from . import crm_kpi_cell_measure_mixin, crm_kpi_cohort
from . import crm_kpi_snapshot_mixin, crm_kpi_snapshot_revenue
from . import crm_kpi_snapshot, crm_kpi_snapshot_total
from . import crm_kpi_snapshot_tag
from . import crm_customer_profile
from . import crm_kpi_survival
