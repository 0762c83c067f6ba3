from . import crm_customer_profile, crm_interaction, crm_retention_model
