from . import crm_interaction_channel
