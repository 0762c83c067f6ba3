"""18.0.1.3.0 (issue 12, review): bring campaign settings written before the
bounds existed inside them, before the update adds the SQL checks.

When a new CHECK does not hold on existing rows, PostgreSQL refuses it and the
update goes on without it (a warning in the log), after Odoo has already
dropped the older, weaker check of the same name: the table would end up with
no check at all. Each value is moved to the nearest allowed one, which is what
the form would have forced had the bound existed.
"""

import logging

from odoo.tools import SQL
from odoo.tools.sql import column_exists

_logger = logging.getLogger(__name__)

MAX_DAYS = 3650  # lib/campaign.py MAX_DAYS at this version

# (table, column, SET expression, WHERE condition)
CLAMPS = [
    ("crm_retention_campaign", "outcome_days",
     f"LEAST(GREATEST(outcome_days, 1), {MAX_DAYS})",
     f"outcome_days < 1 OR outcome_days > {MAX_DAYS}"),
    ("crm_retention_campaign", "offer_validity_days",
     f"LEAST(GREATEST(offer_validity_days, 1), {MAX_DAYS})",
     f"offer_validity_days < 1 OR offer_validity_days > {MAX_DAYS}"),
    ("crm_retention_campaign", "offer_value",
     "CASE WHEN offer_value < 0 THEN 0 ELSE 100 END",
     "offer_value < 0 OR (offer_type = 'percentage' AND offer_value > 100)"),
    ("crm_retention_campaign", "random_seed", "-random_seed", "random_seed < 0"),
    ("crm_retention_campaign", "budget", "0", "budget < 0"),
    ("crm_retention_campaign", "cost_per_member", "0", "cost_per_member < 0"),
    ("crm_retention_campaign", "min_group_size", "0", "min_group_size < 0"),
    ("crm_retention_campaign", "date_end", "date_start", "date_end < date_start"),
    ("crm_retention_campaign_step", "delay_days",
     f"LEAST(GREATEST(delay_days, 0), {MAX_DAYS})",
     f"delay_days < 0 OR delay_days > {MAX_DAYS}"),
]  # fmt: skip


def migrate(cr, version):
    if not version:
        return
    for table, column, value, where in CLAMPS:
        if not column_exists(cr, table, column):
            continue
        cr.execute(
            SQL(
                "UPDATE %s SET %s = %s WHERE %s",
                SQL.identifier(table),
                SQL.identifier(column),
                SQL(value),
                SQL(where),
            )
        )
        if cr.rowcount:
            _logger.warning(
                "%s.%s: %d value(s) out of bounds moved to the nearest allowed one",
                table,
                column,
                cr.rowcount,
            )
