from . import crm_customer_profile, res_company, res_config_settings, sale_order
