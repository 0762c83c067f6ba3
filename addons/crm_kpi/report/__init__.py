from . import crm_kpi_deal_report
