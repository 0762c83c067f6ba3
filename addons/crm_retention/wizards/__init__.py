# first: the customer actions below inherit it
from . import crm_customer_profile_selection  # isort: skip
from . import (
    base_partner_merge_automatic_wizard,
    crm_customer_profile_assign,
    crm_customer_profile_call,
    crm_customer_profile_campaign,
    crm_retention_backtest_run,
    crm_retention_campaign_launch,
    mail_compose_message,
)
