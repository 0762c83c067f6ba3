from . import (
    crm_kpi_campaign_report,
    crm_kpi_channel_report,
    crm_kpi_customer_report,
    crm_kpi_deal_report,
    crm_kpi_funnel_report,
)
