{
    "name": "CRM Contact Center",
    "summary": "One log of every customer interaction across channels (phone, IP "
    "telephony, e-mail, web, chat, social, SMS, meetings, surveys) and a contact-center queue",
    "version": "18.0.1.0.0",
    "category": "Sales/CRM",
    "license": "LGPL-3",
    "author": "CRM Retention Suite",
    "website": "https://example.com/crm-retention-suite",
    "depends": ["crm", "phone_validation"],
    "data": [
        "security/crm_contact_center_security.xml",
        "security/ir.model.access.csv",
        "data/crm_interaction_channel_data.xml",
        "views/crm_interaction_channel_views.xml",
        "views/crm_contact_center_menus.xml",
    ],
    "installable": True,
    "application": False,
}
