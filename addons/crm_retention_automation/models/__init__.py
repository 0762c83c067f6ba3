from . import crm_lifecycle_history
