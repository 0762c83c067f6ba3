from . import crm_lifecycle_stage
from . import crm_retention_model
from . import crm_customer_profile
from . import crm_lifecycle_history
from . import crm_lead
from . import res_partner
from . import res_config_settings
