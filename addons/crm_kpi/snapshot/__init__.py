"""The engine of ``crm.kpi.snapshot``, apart from the model's fields:

- ``day``: the statement that writes one (company, day), one builder per
  part;
- ``run``: the daily cron and the back-fill queue.

Each module extends the model (``_inherit``); the addon imports them after
its models.
"""
