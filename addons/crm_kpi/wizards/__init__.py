from . import crm_kpi_cohort_heatmap, crm_kpi_snapshot_backfill
