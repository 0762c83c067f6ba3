"""The engine of ``crm.kpi.snapshot``, apart from the model's fields:

- ``period``: the statement that writes the days of a period (the daily
  cron's day is a period of one day), and the slice builders it shares
  with the cohorts;
- ``run``: the daily cron and the back-fill queue;
- ``revenue``: the revenue retention CTEs of the period statement.

Each module extends the model (``_inherit``); the addon imports them after
its models.
"""
