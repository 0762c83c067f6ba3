from . import account_move, crm_customer_profile, res_company, res_config_settings
