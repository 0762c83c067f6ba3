{
    "name": "CRM Retention: Sale Orders as Purchases",
    "summary": "Confirmed sale orders count as customers' purchases in the lifecycle, "
    "churn model, KPIs and campaign results",
    "version": "18.0.1.2.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "development_status": "Beta",
    "depends": ["crm_retention", "sale"],
    "data": [
        "views/res_config_settings_views.xml",
    ],
    "post_init_hook": "post_init_hook",
    "installable": True,
    "auto_install": True,
}
