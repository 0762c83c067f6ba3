"""18.0.1.6.0 (issue 16): profiles know where their history starts
(``history_start``), the day of their first history row. The next nightly run
then rebuilds, from their deals, the past of the customers who bought before
it (everyone who bought before the suite was installed).
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE crm_customer_profile p SET history_start = h.first_day
          FROM (SELECT profile_id, min(date)::date AS first_day
                  FROM crm_lifecycle_history GROUP BY profile_id) h
         WHERE h.profile_id = p.id AND p.history_start IS NULL
        """
    )
