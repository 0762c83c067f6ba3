from . import test_crm_kpi_deal_report
from . import test_ui
