"""The deals a nightly run reads: all of them, or only the changed customers'.

Every won deal, order, invoice or point of sale order that changes through
the ORM refreshes its customer's profile at once (``crm.retention.deal.mixin``,
``_recompute_partners``), and the profile stores the customer's deal
aggregate (``AGGREGATE_COLUMNS``: the frame ``_aggregate_sql`` gives). So the
nightly run need not read ten million deals to learn what the profiles
already hold: it reads the stored aggregates and re-reads the deals of the
customers that may have changed otherwise:

- the customers of documents created since the last run (ids above the
  run's high-water mark of each source table, ``_deal_tables``): rows loaded
  in SQL or with the refresh skipped;
- the customers with a purchase on or after the last run's date: a deal
  dated in the future counts on today's date (``_convert_deals_sql``
  clamps it), and so does a rate entered for that day;
- the customers refreshed since the last run read its deals
  (``metrics_stamp``): a refresh clamped its deals to its user's date, and
  two refreshes of one customer at once may each have missed the other's
  change; re-read with the run's date and snapshot, they are right.

Everything else that can move an aggregate makes the run read every deal
(``_full_aggregate_reason``): a first run; "Recompute now" and a new deal
source (``full=True``); a change of what counts (the sources' SQL, the won
stages, the company switches: ``_aggregate_fingerprint``) or of a currency
rate dated before the last run; a date earlier than the last run's; more
changed customers than a full read costs; and every
``crm_retention.full_aggregate_days`` days (default 7) whatever happens, so a
change made in SQL behind the ORM's back (an UPDATE of an order's amount)
is caught within a week.

Both ways give the same frame: the amounts are rounded to cents
(``_read_aggregate``) and the rows sorted by customer, so the model fit and
the metrics see the same numbers.
"""

import hashlib
import logging
from datetime import date

import pandas as pd

from odoo import api, models
from odoo.tools import SQL

from ..lib.lifecycle import AGGREGATE_COLUMNS, AGGREGATE_DATES

_logger = logging.getLogger(__name__)

# a nightly run re-reads the deals of at most this share of the profiles
# (and at least MIN_REREAD customers): beyond, one full read costs less
MAX_REREAD_SHARE = 0.2
MIN_REREAD = 1000
# any fixed day: the fingerprint of the deal source SQL must not move daily
FINGERPRINT_DAY = date(2000, 1, 1)


class CrmCustomerProfileIncremental(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _deal_tables(self):
        """Extension point: ``{table: condition}`` of every document table
        of the deal source (a bridge adds its own: ``sale_order``,
        ``account_move``, ``pos_order``), the condition (SQL on the alias
        ``t``, or None) telling the rows that may count (a vendor bill is
        no customer's purchase). A nightly run re-reads the customers
        (``t.partner_id``'s commercial partner) of the rows created since
        the last run (``id`` above its high-water mark) that meet it. Every
        lead counts (the opportunity count)."""
        return {"crm_lead": None}

    @api.model
    def _deal_marks(self):
        """``{table: highest id}`` of ``_deal_tables`` in this transaction's
        snapshot (0 for an empty table)."""
        marks = {}
        for table in sorted(self._deal_tables()):
            [(mark,)] = self.env.execute_query(
                SQL("SELECT COALESCE(max(id), 0) FROM %s", SQL.identifier(table))
            )
            marks[table] = mark
        return marks

    @api.model
    def _aggregate_fingerprint(self, company, cutoff):
        """A digest of what decides ``company``'s aggregates besides the
        deals themselves: the deal source's SQL (bridges, switches, the
        company currencies), the won stages, and the currency rates dated
        before ``cutoff`` (later ones only move deals from ``cutoff`` on,
        which the nightly run re-reads anyway). A bridge may add parts
        (``_aggregate_fingerprint_parts``)."""
        digest = hashlib.md5(usedforsecurity=False)
        for part in self._aggregate_fingerprint_parts(company, cutoff):
            digest.update(repr(part).encode())
        return digest.hexdigest()

    @api.model
    def _aggregate_fingerprint_parts(self, company, cutoff):
        """The parts ``_aggregate_fingerprint`` digests (call super)."""
        query = self._aggregate_sql([company.id], FINGERPRINT_DAY)
        [(won,)] = self.env.execute_query(
            SQL("SELECT array_agg(id ORDER BY id) FROM crm_stage WHERE is_won")
        )
        [rates] = self.env.execute_query(
            SQL(
                """SELECT count(*), COALESCE(sum(id), 0), max(write_date)
                     FROM res_currency_rate
                    WHERE name < %s AND (company_id = %s OR company_id IS NULL)""",
                cutoff or FINGERPRINT_DAY,
                company.id,
            )
        )
        return [query.code, query.params, won, rates]

    @api.model
    def _full_aggregate_reason(self, company, model, today, full):
        """Why the run of ``company`` dated ``today`` must read every deal,
        or None when the changed customers' deals are enough (see the
        module's docstring)."""
        if full:
            return "asked"
        if not model.aggregate_date or not model.deal_marks or not model.marks_date:
            return "first run"
        if today < model.marks_date:
            return "dated before the last run"
        settings = self.env["crm.retention.model"]._get_settings(company)
        if (today - model.aggregate_date).days >= settings["full_aggregate_days"]:
            return "periodic"
        if self._aggregate_fingerprint(company, model.marks_date) != model.aggregate_fingerprint:
            return "deal source, won stages or currency rates changed"
        marks = model.deal_marks
        if set(marks) != set(self._deal_tables()):
            return "deal tables changed"
        return None

    @api.model
    def _changed_customers(self, company, model):
        """The commercial partners whose aggregate a nightly run of
        ``company`` re-reads: those of documents created since the last
        run's marks, those with a purchase on or after its date, and those
        refreshed since it read the deals."""
        parts = [
            SQL(
                "SELECT p.commercial_partner_id FROM %s t JOIN res_partner p ON p.id = t.partner_id"
                " WHERE t.id > %s %s",
                SQL.identifier(table),
                int(model.deal_marks.get(table, 0)),
                SQL("AND %s", condition) if condition else SQL(),
            )
            for table, condition in sorted(self._deal_tables().items(), key=lambda item: item[0])
        ]
        parts.append(
            SQL(
                """SELECT partner_id FROM crm_customer_profile
                    WHERE company_id = %s
                      AND (last_deal_date >= %s
                           -- microseconds kept: the run stamped its own writes so
                           OR metrics_stamp > (SELECT m.aggregate_stamp FROM crm_retention_model m
                                                WHERE m.id = %s))""",
                company.id,
                model.marks_date,
                model.id,
            )
        )
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT partner_id FROM (%s) c(partner_id)", SQL(" UNION ALL ").join(parts)
            )
        )
        return sorted(row[0] for row in rows if row[0])

    @api.model
    def _stored_aggregate_sql(self, company, excluded):
        """The aggregates ``company``'s profiles store, as rows of
        ``_aggregate_sql``, except the customers ``excluded``: a profile
        with no lead and no deal (all of them deleted) is no row, as in a
        full read."""
        columns = [
            SQL("%s - DATE '1970-01-01' AS %s", SQL.identifier(c), SQL.identifier(c))
            if c in AGGREGATE_DATES
            else SQL.identifier(c)
            for c in AGGREGATE_COLUMNS
        ]
        return SQL(
            """
            SELECT company_id, partner_id, %(columns)s
              FROM crm_customer_profile
             WHERE company_id = %(company)s
               AND (opportunity_count > 0 OR won_count > 0 OR won_revenue <> 0)
               -- a hashed anti-join whatever the PostgreSQL version
               AND partner_id NOT IN (SELECT unnest(%(excluded)s::integer[]))
            """,
            columns=SQL(", ").join(columns),
            company=company.id,
            excluded=list(excluded),
        )

    @api.model
    def _run_frame(self, company, model, today, full=False):
        """The deal aggregate of ``company``'s run dated ``today``, one row
        per customer in partner order, and what to note on ``model`` once
        the run is done (``_finish_frame``): read in full, or the stored
        aggregates with the changed customers re-read (module docstring)."""
        marks = self._deal_marks()
        reason = self._full_aggregate_reason(company, model, today, full)
        changed = []
        if reason is None:
            changed = self._changed_customers(company, model)
            [(profiles,)] = self.env.execute_query(
                SQL("SELECT count(*) FROM crm_customer_profile WHERE company_id = %s", company.id)
            )
            if len(changed) > max(MIN_REREAD, MAX_REREAD_SHARE * profiles):
                reason = "many changed customers"
        if reason is None:
            parts = [self._read_aggregate(self._stored_aggregate_sql(company, changed))]
            if changed:
                parts.append(
                    self._read_aggregate(self._aggregate_sql([company.id], today, changed))
                )
            # an empty part reads as text columns: leave it out of the types
            frame = pd.concat([part for part in parts if len(part)] or parts[:1], ignore_index=True)
            _logger.info(
                "Lifecycle recompute of company %s: stored aggregates, %s customers re-read",
                company.id,
                len(changed),
            )
        else:
            frame = self._read_aggregate(self._aggregate_sql([company.id], today))
            _logger.info(
                "Lifecycle recompute of company %s: every deal read (%s)", company.id, reason
            )
        frame = frame.sort_values("partner_id", kind="stable", ignore_index=True)
        pending = {
            "run_marks": marks,
            "run_fingerprint": self._aggregate_fingerprint(company, today),
            "run_aggregate": "full" if reason else "incremental",
            "run_reread": len(frame) if reason else len(changed),
        }
        return frame, pending

    @api.model
    def _finish_frame(self, model):
        """The run of ``model``'s company is applied: its marks
        become the next run's, and a full read dates the next periodic one.
        Only now: a run that dies before applying its frame must re-read
        the same customers when it starts over."""
        values = {
            "deal_marks": model.run_marks,
            "marks_date": model.run_date,
            "aggregate_fingerprint": model.run_fingerprint,
        }
        if model.run_aggregate == "full":
            values["aggregate_date"] = model.run_date
        model.write(values)
        # in SQL: the ORM would drop the stamp's microseconds
        self.env.cr.execute(
            SQL(
                "UPDATE crm_retention_model SET aggregate_stamp = run_stamp WHERE id = %s", model.id
            )
        )
        model.invalidate_recordset(["aggregate_stamp"])
