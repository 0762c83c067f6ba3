from . import (
    crm_customer_profile,
    crm_interaction,
    crm_retention_model,
    res_company,
    res_config_settings,
)
