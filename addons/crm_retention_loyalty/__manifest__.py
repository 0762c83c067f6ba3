{
    "name": "CRM Retention Campaigns: Loyalty Coupons",
    "summary": "Retention campaign offers become real loyalty coupons, one per member",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "development_status": "Beta",
    "depends": ["crm_retention", "loyalty"],
    "data": [
        "views/crm_retention_campaign_views.xml",
    ],
    "installable": True,
    "auto_install": True,
}
