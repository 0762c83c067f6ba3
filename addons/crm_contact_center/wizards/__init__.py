from . import (
    crm_interaction_backfill_wizard,
    crm_interaction_cdr_import_wizard,
    crm_interaction_log_wizard,
    crm_interaction_source_key_wizard,
    crm_interaction_source_rotate_wizard,
)
