"""18.0.1.2.0 (issue 19, part 4): the figures a request's priority was computed
from (customer's stage, value at risk, P(alive)).

Stored computes: created empty here so the upgrade does not compute them in
Python for every interaction ever logged; the post script fills them for the
open requests.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        ALTER TABLE crm_interaction
            ADD COLUMN IF NOT EXISTS priority_stage_id integer,
            ADD COLUMN IF NOT EXISTS priority_value_at_risk numeric,
            ADD COLUMN IF NOT EXISTS priority_p_alive numeric
        """
    )
