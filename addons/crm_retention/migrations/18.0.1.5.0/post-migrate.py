"""18.0.1.5.0 (issue 15): clean-ups of older schemas that ran in
``crm.customer.profile.init()`` at every update now run once, here.

- ``partner_id`` and ``risk_level`` lost their own indexes (the unique
  (partner_id, company_id) index serves the first; the second was never
  selective enough to pay for its writes);
- the shared work table of the first recompute versions is gone (each run
  creates its own per company).

The threshold parameters shipped as data are kept as they are: their
defaults now live once in ``lib/lifecycle.py`` and a value a consultant set
stays his.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        DROP INDEX IF EXISTS crm_customer_profile__partner_id_index;
        DROP INDEX IF EXISTS crm_customer_profile__risk_level_index;
        DROP TABLE IF EXISTS crm_retention_work;
        """
    )
