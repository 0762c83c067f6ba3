{
    "name": "CRM Retention: Service Experience in the Risk",
    "summary": "Low ratings, missed calls, SLA breaches, escalations and complaints feed "
    "a health score fitted on the company's own lapses",
    "version": "18.0.1.5.2",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "development_status": "Beta",
    "depends": ["crm_retention", "crm_contact_center"],
    "external_dependencies": {"python": ["numpy>=1.23", "scipy>=1.9"]},
    "data": [
        "views/crm_customer_profile_views.xml",
        "views/crm_retention_model_views.xml",
        "views/crm_interaction_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "installable": True,
    "auto_install": True,
}
