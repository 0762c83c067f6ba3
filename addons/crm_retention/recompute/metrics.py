"""Metrics of the lifecycle recompute and the batch layout they travel in.

``_compute_metrics`` runs ``lib.lifecycle`` with the company's churn model
by chunks of customers (bounded memory), on threads (numpy and scipy
release the GIL). The result is written by binary COPY (``_copy_batch``,
``_store_metrics``) into a batch table or the run's work table, in the
layout ``layout.BATCH_TYPES`` describes (floats as scaled integers, dates
as day numbers, selections as indexes), then read back in SQL by
``_batch_value_sql`` when the writer applies it.
"""

import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from odoo import api, models
from odoo.tools import SQL

from ..lib import lifecycle
from .layout import (
    BATCH_DECIMALS,
    BATCH_NULL_DATE,
    BATCH_TYPES,
    METRIC_COLUMNS,
    METRICS_CHUNK,
    METRICS_THREADS,
)

_logger = logging.getLogger(__name__)


class CrmCustomerProfileMetrics(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _compute_metrics(self, company, model, frame, today):
        """Metrics of the aggregated customers in ``frame`` (rows of
        ``_aggregate_sql``) with the company's churn model, as a frame in
        partner order (``lib.lifecycle.compute_metrics``).

        The frame is computed by chunks of ``METRICS_CHUNK`` customers (the
        memory of the model's temporaries stays bounded), by threads, one
        per core (up to ``METRICS_THREADS``): numpy and scipy's special
        functions release the GIL, so the model's hypergeometric functions
        run on every core.
        """
        settings = self.env["crm.retention.model"]._get_settings(company)
        kwargs = {
            "today": today,
            "params": model._get_params(),
            "typical_interval_days": model.typical_interval_days
            or settings["default_interval_days"],
            "settings": settings,
        }
        # in partner order, as the batches read them (sorting the input is
        # cheaper than sorting the wider result)
        frame = frame.sort_values("partner_id", kind="stable")
        # (an empty frame is one chunk: its result still has every column)
        chunks = [
            frame.iloc[i : i + METRICS_CHUNK] for i in range(0, len(frame), METRICS_CHUNK)
        ] or [frame]
        threads = min(os.cpu_count() or 1, METRICS_THREADS, len(chunks))
        if threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="crm_retention_metrics") as pool:
                parts = list(
                    pool.map(lambda chunk: lifecycle.compute_metrics(chunk, **kwargs), chunks)
                )
        else:
            parts = [lifecycle.compute_metrics(chunk, **kwargs) for chunk in chunks]
        metrics = pd.concat(parts, ignore_index=True)
        metrics["company_id"] = company.id
        return metrics

    @api.model
    def _batch_columns_sql(self):
        """Column definitions of the batch layout: ``partner_id``,
        ``company_id`` and the metrics as raw values (see ``BATCH_TYPES``)."""
        return SQL(", ").join(
            # the types are this module's constants
            SQL("%s %s", SQL.identifier(c), SQL(BATCH_TYPES[self._batch_kind(c)][0]))
            for c in ["partner_id", "company_id", *METRIC_COLUMNS]
        )

    @api.model
    def _copy_batch(self, metrics):
        """Load metrics into the temp table crm_retention_batch (the
        customers of an incremental update) and return it as a relation."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "CREATE TEMP TABLE IF NOT EXISTS crm_retention_batch (%s) ON COMMIT DROP",
                self._batch_columns_sql(),
            )
        )
        cr.execute("TRUNCATE crm_retention_batch")
        self._store_metrics(metrics, "crm_retention_batch")
        # an index and fresh statistics, so the planner joins the batch to the
        # profiles by hash or index, never by nested loops over a seq scan
        cr.execute(
            "CREATE INDEX IF NOT EXISTS crm_retention_batch_partner_idx "
            "ON crm_retention_batch (partner_id)"
        )
        cr.execute("ANALYZE crm_retention_batch")
        return SQL.identifier("crm_retention_batch")

    @api.model
    def _store_metrics(self, metrics, table):
        """Append ``metrics`` to ``table`` (batch layout) by binary COPY.

        Fixed-width columns built with numpy: formatting a CSV (pandas
        ``to_csv``) cost more than the whole profile write. The table holds
        raw values (int4, floats scaled to int8, dates as days since 1970
        with ``BATCH_NULL_DATE`` for none, selections as their index);
        ``_batch_value_sql`` turns them into the profile's types.
        """
        for start in range(0, len(metrics), METRICS_CHUNK):
            self._store_metrics_chunk(metrics.iloc[start : start + METRICS_CHUNK], table)

    @api.model
    def _store_metrics_chunk(self, metrics, table):
        columns = ["partner_id", "company_id", *METRIC_COLUMNS]
        dtype = [("count", ">i2")]
        for c in columns:
            dtype += [(f"{c}__len", ">i4"), (c, BATCH_TYPES[self._batch_kind(c)][1])]
        rows = np.empty(len(metrics), dtype=dtype)
        rows["count"] = len(columns)
        for c in columns:
            kind = self._batch_kind(c)
            rows[f"{c}__len"] = rows.dtype[c].itemsize
            values = metrics[c]
            if kind == "date":
                days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
                rows[c] = np.where(np.isnat(days), BATCH_NULL_DATE, days.astype(np.int64))
            elif kind == "selection":
                keys = self._selection_keys(c)
                rows[c] = pd.Categorical(values, categories=keys).codes
            elif kind == "float":
                scaled = values.to_numpy(dtype=float) * 10 ** self._batch_decimals(c)
                rows[c] = np.rint(np.clip(np.nan_to_num(scaled), -9e18, 9e18))
            else:
                rows[c] = values.to_numpy()
        header = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
        # table and column names are this module's constants, not user input
        self.env.cr.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(header + rows.tobytes() + b"\xff\xff"),
        )

    @api.model
    def _batch_kind(self, column):
        field = self._fields[column]
        if field.type in ("integer", "many2one"):
            return "integer"
        if field.type in ("float", "monetary"):
            return "float"
        return field.type  # date, selection

    @api.model
    def _selection_keys(self, column):
        """The keys of the selection ``column``: the batch layout stores a
        value as its position among them."""
        return [key for key, _label in self._fields[column].selection]

    @api.model
    def _batch_decimals(self, column):
        """Decimals a float ``column`` keeps in the batch layout."""
        return BATCH_DECIMALS[self._fields[column].type]

    @api.model
    def _batch_value_sql(self, column, alias="b"):
        """The batch table's raw ``column`` in the profile's type."""
        value = SQL.identifier(alias, column)
        kind = self._batch_kind(column)
        if kind == "date":
            return SQL("DATE '1970-01-01' + NULLIF(%s, %s)", value, BATCH_NULL_DATE)
        if kind == "float":
            return SQL("%s::numeric * %s", value, SQL(f"1e-{self._batch_decimals(column)}"))
        if kind == "selection":
            keys = self._selection_keys(column)
            return SQL("(%s::varchar[])[%s + 1]", keys, value)
        return value
