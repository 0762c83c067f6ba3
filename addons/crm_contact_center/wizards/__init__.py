from . import (
    crm_interaction_backfill_wizard,
    crm_interaction_log_wizard,
    crm_interaction_source_key_wizard,
)
