from . import crm_customer_profile, pos_order, res_company, res_config_settings
