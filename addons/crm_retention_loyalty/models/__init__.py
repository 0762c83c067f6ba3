from . import crm_retention_campaign, crm_retention_campaign_member
