{
    "name": "CRM Retention: Automation Rules on Stage Changes",
    "summary": "Automation rules 'On creation' of a lifecycle stage change fire for every "
    "change, including those the nightly recompute writes in bulk",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "development_status": "Beta",
    "depends": ["crm_retention", "base_automation"],
    "installable": True,
    "auto_install": True,
}
