"""18.0.1.7.0 (issue 17): the stock At risk and Lost stages tell the
salesperson (their data records are ``noupdate``: set here for databases
that had them before). The new risk figures (reason, act-before date, value
at risk) are filled by the next recompute.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        UPDATE crm_lifecycle_stage s
           SET notify = true,
               notify_deadline_days = CASE WHEN s.kind = 'lost' THEN 7 ELSE 3 END,
               notify_note = COALESCE(s.notify_note, jsonb_build_object('en_US',
                   CASE WHEN s.kind = 'lost'
                        THEN 'Find out why the customer left, note it, and propose them for '
                             'a win-back campaign.'
                        ELSE 'Call the customer before the date to act by: ask how the last '
                             'purchase went and what would bring them back.' END)),
               -- the new column got the field's default (a to-do): a call for At risk
               notify_activity_type_id = (
                   SELECT res_id FROM ir_model_data
                    WHERE module = 'mail' AND name = CASE WHEN s.kind = 'lost'
                          THEN 'mail_activity_data_todo' ELSE 'mail_activity_data_call' END)
          FROM ir_model_data d
         WHERE d.model = 'crm.lifecycle.stage' AND d.module = 'crm_retention'
           AND d.name IN ('stage_at_risk', 'stage_lost') AND d.res_id = s.id
        """
    )
