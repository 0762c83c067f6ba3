"""The lifecycle recompute engine of ``crm.customer.profile``, one job per
module (see ARCHITECTURE.md):

- ``deal_source``: the won deals (rows, the ``_deal_source_sql`` override
  point, currency conversion) and their per-customer aggregate;
- ``incremental``: what a nightly run reads (every deal, or the profiles'
  stored aggregates with the changed customers' deals re-read) and when it
  must read everything;
- ``metrics``: the churn model's metrics by chunks, and the batch layout
  they travel in (binary COPY into work and batch tables);
- ``stages``: the stage rules as SQL, stages re-evaluated alone, the
  reason a change is logged with;
- ``writer``: the batch statement that brings profiles, stages, history,
  chatter and the partners' stage mirror in line, one builder per CTE;
- ``owners``: the profiles' salesperson;
- ``notify``: who is told of a stage change (the after-batch hook
  ``crm.lifecycle.history._after_bulk_create``, the salesperson's activity,
  the managers' digest);
- ``rebuild``: each customer's past history reconstructed from its
  deals (``lib.rebuild``), after install, an import, or on demand;
- ``run``: the nightly run (phases, per-company work table, resumable
  ranges, two connections in parallel, progress, timing) and the refresh of
  a few customers when their deals change.

Each module extends the model (``_inherit``), so every step stays a method
of ``crm.customer.profile`` that a bridge or a test can override; nothing is
imported here: the addon imports the modules after its models.
"""
