from . import (
    calendar_event,
    crm_interaction,
    crm_interaction_channel,
    crm_interaction_source,
    crm_interaction_source_secret,
    crm_lead,
    crm_team,
    ir_http,
    mail_message,
    res_partner,
    res_users,
    sms_sms,
)
