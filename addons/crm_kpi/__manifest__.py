{
    "name": "CRM Customer KPIs",
    "summary": "Customer relationship KPIs: acquired and lost customers, retention, deal "
    "frequency and amount, CLV, funnel, cohorts, campaign and channel effectiveness",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "website": "https://example.com/crm-retention-suite",
    "depends": ["crm_retention", "crm_contact_center"],
    "data": [
        "security/ir.model.access.csv",
        "security/crm_kpi_security.xml",
        "report/crm_kpi_deal_report_views.xml",
        "views/crm_kpi_menus.xml",
    ],
    "assets": {
        "web.assets_tests": ["crm_kpi/static/tests/tours/**/*"],
    },
    "installable": True,
    "application": False,
}
