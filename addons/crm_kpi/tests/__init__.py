from . import test_crm_kpi_deal_report, test_ui
