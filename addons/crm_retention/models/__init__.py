# the purchase document mixin first: crm.lead inherits it
from . import crm_retention_deal_mixin  # isort: skip
from . import (
    crm_customer_profile,
    crm_lead,
    crm_lifecycle_history,
    crm_lifecycle_stage,
    crm_retention_backtest,
    crm_retention_campaign,
    crm_retention_campaign_member,
    crm_retention_campaign_step,
    crm_retention_campaign_step_execution,
    crm_retention_model,
    crm_retention_model_fit,
    mail_template,
    mail_tracking_value,
    res_company,
    res_config_settings,
    res_partner,
)
