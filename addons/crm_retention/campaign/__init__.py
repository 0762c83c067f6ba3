"""The campaign machinery, one job per module (see ARCHITECTURE.md):
``enrolment`` (target, launch, control draw), ``runner`` (the hourly run and
the members' steps), ``outcomes`` (retained members and the statistics of
the results). Each module extends ``crm.retention.campaign`` and/or
``crm.retention.campaign.member``; nothing is imported here: the addon
imports the modules after its models."""
