"""The layout shared by the recompute engine's modules: the work tables, the
batch columns and their raw types, the run lock. No model here: the engine's
modules (``deal_source``, ``metrics``, ``writer``, ``run``) extend
``crm.customer.profile`` and import these.
"""

from odoo.exceptions import UserError

from ..lib.lifecycle import AGGREGATE_COLUMNS

# Work tables of the full recompute, one per company (this name and
# _<company id>): one row per customer with the metrics of the current run, in
# the batch layout (see _store_metrics). Unlogged (a cache that the next run
# rebuilds if the server crashed) and outside the ORM on purpose: created by
# each run, written by one COPY, applied to the profiles in partner-id order
# batch by batch, dropped when the run is done.
WORK_TABLE = "crm_retention_work"

# Metric columns written by the recompute, in the order of the batch frame:
# first the deal aggregates as they are (a nightly run reads them back, see
# ``incremental``), then what the model computes from them.
METRIC_COLUMNS = [
    *AGGREGATE_COLUMNS,
    "avg_deal_amount",
    "avg_days_between_deals",
    "days_since_last_deal",
    "expected_interval_days",
    "overdue_ratio",
    "expected_next_deal_date",
    "p_alive",
    "churn_probability",
    "expected_deals_90d",
    "predicted_clv",
    "risk_level",
    "risk_reason_code",
    "act_before_date",
    "p_alive_expected",
    "p_alive_if_deal",
    "value_if_retained",
    "value_at_risk",
    "metrics_date",
]


# The columns of a deal row, in order: what ``_deal_source_sql`` and every
# source a bridge adds to it return (see its docstring).
DEAL_COLUMNS = [
    "partner_id",
    "company_id",
    "deal_date",
    "amount",
    "currency_id",
    "user_id",
    "team_id",
    "medium_id",
    "origin_model",
    "origin_id",
]
# A deal's id across sources is origin_id * DEAL_SLOTS + the slot of its
# document's model (reserved for the bridges of sales, invoicing and point of
# sale; another model takes the last slot): unique in the union of sources.
DEAL_SLOTS = 16
DEAL_ORIGIN_SLOTS = {"crm.lead": 0, "sale.order": 1, "account.move": 2, "pos.order": 3}

# Raw column types of the batch layout (work table, crm_retention_batch) per
# field kind: (PostgreSQL type, numpy big-endian dtype of the binary COPY).
# Floats travel as integers scaled by 10^decimals (BATCH_DECIMALS: amounts,
# rounded to cents, and other floats, rounded to at most 4 decimals):
# PostgreSQL turns a bigint into numeric several times faster than a float8
# (which goes through text). Values beyond the bigint range (amounts of
# 92 quadrillion) are clipped.
BATCH_TYPES = {
    "integer": ("integer", ">i4"),
    "float": ("bigint", ">i8"),
    "date": ("integer", ">i4"),
    "selection": ("integer", ">i4"),
}
BATCH_DECIMALS = {"monetary": 2, "float": 4}
BATCH_NULL_DATE = -(2**31)

# the metrics of a recompute are computed by chunks of customers (bounding
# the memory of the model's temporaries), by threads, at most this many
# (see _compute_metrics); they are stored by COPY in chunks of this size too
METRICS_THREADS = 4
METRICS_CHUNK = 100000

# first key of the advisory lock of a company's recompute run (the second is
# the company id): "CRMR"
RUN_LOCK_KEY = 0x43524D52
# the same for the other long jobs (``crm.customer.profile._job_lock``): a
# company's KPI snapshots ("CRMK", crm_kpi) and the campaign runner ("CRMC")
KPI_LOCK_KEY = 0x43524D4B
CAMPAIGN_LOCK_KEY = 0x43524D43
# a company's chunk table ("CRMH"): shared by each transaction of a worker
# that looks it up then claims a chunk, exclusive for the run that drops it
CHUNKS_LOCK_KEY = 0x43524D48


class JobRunning(UserError):
    """Another run of the same job (and company) holds its lock."""


class RecomputeRunning(JobRunning):
    """Another recompute of the same company holds its lock."""
