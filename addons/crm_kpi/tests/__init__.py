from . import (
    test_channel_report,
    test_cohort,
    test_crm_kpi_campaign_report,
    test_crm_kpi_deal_report,
    test_customer_kpis,
    test_funnel_report,
    test_rebuild_kpis,
    test_security,
    test_snapshot,
    test_survival,
    test_survival_ui,
    test_ui,
)
