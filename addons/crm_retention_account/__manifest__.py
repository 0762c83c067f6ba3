{
    "name": "CRM Retention: Invoices as Purchases",
    "summary": "Posted customer invoices, less credit notes, count as customers' purchases "
    "in the lifecycle, churn model, KPIs and campaign results",
    "version": "18.0.1.1.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "development_status": "Beta",
    "depends": ["crm_retention", "account"],
    "data": [
        "views/res_config_settings_views.xml",
    ],
    "post_init_hook": "post_init_hook",
    "installable": True,
    "auto_install": True,
}
