"""18.0.1.2.0 (issue 12): the agents' team rule on interactions covers the
queue only (API and hand-logged requests), not the e-mails, meetings and SMS
captured from teammates' documents. Record rules
are ``noupdate``: let this update reload the changed one. The new channel rules
are new records and need nothing here."""

CHANGED = ("crm_interaction_rule_agent",)


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "UPDATE ir_model_data SET noupdate = FALSE"
        " WHERE module = 'crm_contact_center' AND name IN %s",
        (CHANGED,),
    )
