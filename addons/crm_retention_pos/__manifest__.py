{
    "name": "CRM Retention: Point of Sale Orders as Purchases",
    "summary": "Paid point of sale orders with a customer count as customers' purchases in "
    "the lifecycle, churn model, KPIs and campaign results",
    "version": "18.0.1.1.1",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "development_status": "Beta",
    "depends": ["crm_retention", "point_of_sale"],
    "data": [
        "views/res_config_settings_views.xml",
    ],
    "post_init_hook": "post_init_hook",
    "installable": True,
    "auto_install": True,
}
