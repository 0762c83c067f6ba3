from . import crm_kpi_cohort, crm_kpi_snapshot
