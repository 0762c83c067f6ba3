"""18.0.1.9.0 (issue 20): the thresholds of the stage rules and the churn
model's settings move from database-wide system parameters
(``crm_retention.<key>``) to each company (``res.company.retention_<key>``).

Each company gets the value the database had (the new columns were filled
with the defaults when the module was updated): a company's customers are
staged the next night exactly as they were. A parameter that is not a
number, or out of its range, is left to the default and logged. The moved
parameters are deleted: they would mislead whoever reads them later. The
ones tuning the machine (``batch_size``, ``parallel_batches``) stay.
"""

import logging

from psycopg2 import sql

from odoo.addons.crm_retention.lib import lifecycle

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not version:
        return
    keys = [f"crm_retention.{key}" for key in lifecycle.COMPANY_SETTINGS]
    cr.execute("SELECT key, value FROM ir_config_parameter WHERE key = ANY(%s)", [keys])
    for param, raw in cr.fetchall():
        key = param.removeprefix("crm_retention.")
        default = lifecycle.DEFAULTS[key]
        try:
            value = type(default)(float(raw)) if isinstance(default, int) else float(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or lifecycle.setting_errors({key: value}):
            _logger.warning(
                "%s = %r is not a valid setting: companies keep %s", param, raw, default
            )
            continue
        cr.execute(
            sql.SQL("UPDATE res_company SET {} = %s").format(sql.Identifier(f"retention_{key}")),
            [value],
        )
        _logger.info("%s = %s moved to every company", param, value)
    cr.execute("DELETE FROM ir_config_parameter WHERE key = ANY(%s)", [keys])
