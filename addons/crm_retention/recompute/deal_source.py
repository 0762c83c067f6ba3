"""The deal source of the lifecycle recompute: which won deals count, in which
currency, and their aggregate per customer.

``_deal_source_sql`` is the documented override point and the suite's one
definition of a deal: a bridge (sale orders, invoices, point of sale)
returns more rows (``layout.DEAL_COLUMNS``) and every reader (aggregate,
model fit, metrics, KPI snapshots, Won Deals, cohorts, acquisition
channels, campaign outcomes) counts them.
``_aggregate_sql`` turns the converted rows into one row per customer (the
frame ``lib.lifecycle`` computes on); ``_read_frame`` streams it by COPY.
"""

import logging
import tempfile

import numpy as np
import pandas as pd

from odoo import api, models
from odoo.tools import SQL

from .layout import BATCH_DECIMALS, DEAL_COLUMNS, DEAL_ORIGIN_SLOTS, DEAL_SLOTS

_logger = logging.getLogger(__name__)

# _read_frame: the CSV stays in memory up to this size, then goes to disk,
# and is parsed by chunks of this many rows
READ_SPOOL_BYTES = 32 * 1024 * 1024
READ_CHUNK_ROWS = 500_000


class CrmCustomerProfileDealSource(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _lead_rows_sql(self, company_ids, partner_ids=None):
        """Every lead and opportunity of the companies (open, won or lost),
        one row each: ``(partner_id, company_id, is_deal, deal_date, amount,
        currency_id, user_id, team_id, medium_id, origin_model, origin_id)``,
        ``partner_id`` being the commercial partner (contacts roll up to
        their company) and ``is_deal`` true for won opportunities. The
        company is the lead's, else its customer's, else its salesperson's;
        the date its closing, else its last stage change, else its creation.

        ``_aggregate_sql`` reads crm_lead once through this query, as its CTE
        ``leads``, for both the deals and the opportunity counts.
        """
        partner_filter = self._customer_filter_sql("p", partner_ids)
        counted = self._deal_companies(company_ids, "retention_count_opportunities")
        # companies that record purchases elsewhere: their opportunities are
        # no deals (no condition at all in the usual case, all count)
        counted_filter = (
            SQL()
            if set(counted) == set(company_ids)
            else SQL("AND COALESCE(l.company_id, p.company_id, u.company_id) = ANY(%s)", counted)
        )
        return SQL(
            """
            SELECT p.commercial_partner_id AS partner_id,
                   COALESCE(l.company_id, p.company_id, u.company_id) AS company_id,
                   (l.active AND l.type = 'opportunity' AND COALESCE(s.is_won, false)
                    %(counted_filter)s AND %(lead_deal)s) AS is_deal,
                   COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date
                       AS deal_date,
                   COALESCE(l.expected_revenue, 0) AS amount,
                   -- an opportunity's amount is in its company's currency
                   NULL::integer AS currency_id,
                   l.user_id, l.team_id, l.medium_id,
                   'crm.lead'::varchar AS origin_model, l.id AS origin_id
              FROM crm_lead l
              JOIN res_partner p ON p.id = l.partner_id
              LEFT JOIN crm_stage s ON s.id = l.stage_id
              LEFT JOIN res_users u ON u.id = l.user_id
             -- the company as COALESCE above, written so that the planner
             -- estimates the rows from crm_lead.company_id: with the COALESCE
             -- alone it expects a few rows and aggregates serially
             WHERE (l.company_id = ANY(%(companies)s)
                    OR (l.company_id IS NULL
                        AND COALESCE(p.company_id, u.company_id) = ANY(%(companies)s)))
               %(partner_filter)s
            """,
            companies=list(company_ids),
            partner_filter=partner_filter,
            counted_filter=counted_filter,
            lead_deal=self._lead_deal_condition_sql(company_ids),
        )

    @api.model
    def _lead_deal_condition_sql(self, company_ids):
        """Extension point: an SQL condition on a won opportunity (aliases
        ``l`` the lead, ``p`` its partner) that must hold for it to be a
        deal, for ``company_ids``. TRUE here; the Sales bridge leaves out an
        opportunity whose confirmed orders count instead (the same purchase
        recorded twice). Evaluated inside the one scan of crm_lead."""
        return SQL("TRUE")

    @api.model
    def _customer_filter_sql(self, partner, partner_ids):
        """``AND <partner>.commercial_partner_id = ANY(partner_ids)`` for a
        deal source's rows (``partner`` the alias of the document's
        partner), or nothing when ``partner_ids`` is None (every customer)."""
        if partner_ids is None:
            return SQL()
        return SQL(
            "AND %s = ANY(%s)",
            SQL.identifier(partner, "commercial_partner_id"),
            list(partner_ids),
        )

    @api.model
    def _deal_companies(self, company_ids, switch):
        """The ids of ``company_ids`` whose boolean ``switch`` (a
        ``res.company`` field, e.g. ``retention_count_opportunities``) is on:
        the companies where a deal source counts. None when the switch does
        not exist (its bridge is not installed, or not loaded yet while
        modules install)."""
        if switch not in self.env["res.company"]._fields:
            return []
        companies = self.env["res.company"].sudo().browse(list(company_ids))
        return [company.id for company in companies if company[switch]]

    @api.model
    def _deal_source_sql(self, company_ids, partner_ids=None):
        """Won deals as SQL rows, the one definition of a deal every reader
        shares (lifecycle, KPI snapshots, Won Deals, cohorts, acquisition
        channels, campaign outcomes), in ``DEAL_COLUMNS`` order:

        ``partner_id`` the commercial partner (contacts roll up to their
        company), ``company_id``, ``deal_date``, ``amount`` (a refund is
        negative; a won opportunity without amount is a deal worth 0) in
        ``currency_id`` (NULL: the company's own; readers convert it at the
        deal date with ``_convert_deals_sql``), ``user_id`` and ``team_id``
        (who sold it), ``medium_id`` (its UTM medium: the acquisition channel
        of a first deal), ``origin_model`` and ``origin_id`` (the document:
        a deal's report id is ``origin_id * DEAL_SLOTS`` plus the model's
        slot in ``DEAL_ORIGIN_SLOTS``, see ``_deal_id_sql``).

        A bridge adds its documents through ``_other_deal_sources_sql``
        (and leaves out opportunities its documents replace through
        ``_lead_deal_condition_sql``), so the aggregate still reads crm_lead
        once::

            def _other_deal_sources_sql(self, company_ids, partner_ids=None):
                return [*super()._other_deal_sources_sql(company_ids, partner_ids),
                        SQL("SELECT ... FROM sale_order so ...")]

        Overriding this method itself works too (any SQL of these columns),
        at the price of a second read of crm_lead in the aggregate.

        The default reads the won opportunities from the ``leads`` CTE of
        ``_aggregate_sql`` (see ``_lead_rows_sql``), so it is only valid
        inside a query that defines it; elsewhere read ``_deal_rows_sql``
        (or ``_converted_deals_sql`` for amounts in the company currency).
        """
        others = self._other_deal_sources_sql(company_ids, partner_ids)
        return SQL(" UNION ALL ").join([self._lead_deal_source_sql(), *others])

    @api.model
    def _other_deal_sources_sql(self, company_ids, partner_ids=None):
        """Extension point of the deal source bridges: a list of SELECTs of
        ``DEAL_COLUMNS`` rows (confirmed sale orders, posted invoices, point
        of sale orders...) for ``company_ids`` (and ``partner_ids``,
        commercial partners, when given). ``_deal_source_sql`` adds them to
        the won opportunities, and ``_aggregate_sql`` adds them next to its
        single scan of crm_lead. Empty here."""
        return []

    @api.model
    def _lead_deal_source_sql(self):
        """The stock deal source: the won opportunities of the ``leads`` CTE.
        ``_aggregate_sql`` recognises it to read crm_lead in a single pass."""
        return SQL(
            "SELECT %s FROM leads WHERE is_deal",
            SQL(", ").join(SQL.identifier(c) for c in DEAL_COLUMNS),
        )

    @api.model
    def _deal_id_sql(self, alias):
        """A deal's id across sources (SQL, from the row alias ``alias`` of
        the deal source): ``origin_id * DEAL_SLOTS`` plus the slot of its
        ``origin_model`` (``DEAL_ORIGIN_SLOTS``; an unknown model takes the
        last slot). The Won Deals report keys its rows with it."""
        model = SQL.identifier(alias, "origin_model")
        whens = SQL(" ").join(
            SQL("WHEN %s THEN %s", name, slot) for name, slot in DEAL_ORIGIN_SLOTS.items()
        )
        return SQL(
            "(%s::bigint * %s + CASE %s %s ELSE %s END)",
            SQL.identifier(alias, "origin_id"),
            DEAL_SLOTS,
            model,
            whens,
            DEAL_SLOTS - 1,
        )

    @api.model
    def _deal_rows_sql(self, company_ids, partner_ids=None):
        """The deal source (``_deal_source_sql``) as a query valid on its
        own: it brings its own ``leads`` CTE. For readers outside the
        lifecycle aggregate (KPI reports, campaign outcomes)."""
        return SQL(
            "WITH leads AS (%s) %s",
            self._lead_rows_sql(company_ids, partner_ids),
            self._deal_source_sql(company_ids, partner_ids),
        )

    @api.model
    def _convert_deals_sql(self, deals, today, extra_columns=()):
        """SELECT of ``(partner_id, company_id, deal_date, amount)`` from the
        relation ``deals`` (rows of ``_deal_source_sql``) with the amount in
        the company currency, converted at the deal date with the company's
        rates, plus the ``extra_columns`` of ``deals`` passed through. The
        one conversion of the module: the lifecycle aggregate and campaign
        outcomes both use it, so a deal counts the same everywhere.
        """

        def rate(currency):
            return SQL(
                """(SELECT r.rate FROM res_currency_rate r
                     WHERE r.currency_id = %s
                       AND (r.company_id = d.company_id OR r.company_id IS NULL)
                       AND r.name <= d.deal_date
                     ORDER BY r.company_id NULLS LAST, r.name DESC LIMIT 1)""",
                currency,
            )

        # sub-selects, not a join: CASE evaluates them lazily, only for deals
        # in another currency, and a join on the computed company of a lead
        # would ruin the planner's row estimates. The company's own currency
        # is a CASE over the (few) companies: a sub-select per deal cost a
        # third of the aggregate with 5 million sale orders, each naming
        # its currency.
        lookup = SQL("(SELECT c.currency_id FROM res_company c WHERE c.id = d.company_id)")
        self.env["res.company"].flush_model(["currency_id"])
        self.env.cr.execute("SELECT id, currency_id FROM res_company ORDER BY id")
        currencies = self.env.cr.fetchall()
        company_currency = (
            SQL(
                "(CASE d.company_id %s ELSE %s END)",
                SQL(" ").join(SQL("WHEN %s THEN %s", *pair) for pair in currencies),
                lookup,
            )
            if currencies
            else lookup
        )
        return SQL(
            """
            SELECT d.partner_id, d.company_id, d.deal_date, %(extra)s
                   CASE WHEN d.currency_id IS NULL OR d.currency_id = %(company_currency)s
                        THEN d.amount
                        ELSE d.amount * COALESCE(%(to_rate)s, 1) / COALESCE(%(from_rate)s, 1)
                   END AS amount
              FROM (
                    -- clamp: a typo like year 0201 must not break the numpy dates
                    SELECT partner_id, company_id, amount, currency_id, %(extra)s
                           LEAST(GREATEST(deal_date, DATE '1900-01-01'), %(today)s)
                               AS deal_date
                      FROM %(deals)s
                   ) d
             WHERE d.company_id IS NOT NULL
            """,
            deals=deals,
            company_currency=company_currency,
            today=today,
            extra=SQL("").join(SQL("%s, ", SQL.identifier(c)) for c in extra_columns),
            from_rate=rate(SQL("d.currency_id")),
            to_rate=rate(company_currency),
        )

    @api.model
    def _converted_deals_sql(self, company_ids, today, partner_ids=None):
        """Deal rows ``(partner_id, company_id, deal_date, amount)``, amounts
        in the company currency (see ``_convert_deals_sql``), as a query
        valid on its own (it builds its own ``leads`` CTE). Used by campaign
        outcomes; the lifecycle aggregate shares its ``leads`` scan with the
        opportunity count instead but converts the same way."""
        return SQL(
            """
            WITH leads AS (%(leads)s),
            deals AS (%(source)s)
            %(converted)s
            """,
            leads=self._lead_rows_sql(company_ids, partner_ids),
            source=self._deal_source_sql(company_ids, partner_ids),
            converted=self._convert_deals_sql(SQL("deals"), today),
        )

    @api.model
    def _aggregate_sql(self, company_ids, today, partner_ids=None):
        """One row per (customer, company) with the deal aggregates:
        ``company_id, partner_id, opportunity_count, won_count, deal_days,
        first_deal_date, last_deal_date, prev_deal_date, won_revenue``, the
        dates as days since 1970-01-01 (numpy reads integers much faster than
        it parses dates; ``lib.lifecycle`` takes both).

        Every lead and every deal becomes an "activity" row; they are folded
        first per customer and deal day (same-day deals are one purchase for
        the model; a day is a purchase when it has a deal that is not a
        refund; a lead that is not a deal is a row of day NULL), then per
        customer. Amounts are converted to the company currency at the deal
        date (``_convert_deals_sql``).

        Amounts are summed as float8, several times faster than numeric
        (the metrics are rounded to cents afterwards).

        crm_lead is read once. With the stock deal source (the won
        opportunities) the lead rows carry their own deal flag, so one
        parallel scan feeds both the deals and the opportunity counts. An
        extended source (``_deal_source_sql`` overridden by a bridge addon)
        is added as deal rows next to the leads counted as opportunities
        only: correct for any source, at the price of reading the leads
        twice.
        """
        return SQL(
            """
            WITH %(days)s
            SELECT company_id, partner_id,
                   sum(lead_count)::integer AS opportunity_count,
                   COALESCE(sum(n), 0)::integer AS won_count,
                   count(*) FILTER (WHERE n > 0)::integer AS deal_days,
                   min(deal_date) FILTER (WHERE n > 0) - DATE '1970-01-01' AS first_deal_date,
                   max(deal_date) FILTER (WHERE n > 0) - DATE '1970-01-01' AS last_deal_date,
                   (array_agg(deal_date ORDER BY deal_date DESC)
                        FILTER (WHERE n > 0))[2] - DATE '1970-01-01' AS prev_deal_date,
                   COALESCE(sum(amount), 0) AS won_revenue
              FROM days GROUP BY partner_id, company_id
            """,
            days=self._deal_days_sql(company_ids, today, partner_ids),
        )

    @api.model
    def _deal_days_sql(self, company_ids, today, partner_ids=None, seen=False):
        """The CTEs behind ``_aggregate_sql`` (without ``WITH``), ending in
        ``days``: one row per customer, company and deal day (``deal_date``
        NULL for the leads that are not deals) with ``lead_count``, ``n``
        (deals that are not refunds) and ``amount`` (company currency). With
        ``seen``, also ``seen_date``: the earliest date of the row's leads or
        deals (the history rebuild dates a customer's first contact so)."""
        source = self._deal_source_sql(company_ids, partner_ids)
        others = self._other_deal_sources_sql(company_ids, partner_ids)
        stock = SQL(" UNION ALL ").join(
            [CrmCustomerProfileDealSource._lead_deal_source_sql(self), *others]
        )
        # this module's own source (plus the bridges' other sources), not an
        # override of it: the lead rows carry their deal flag
        if source.code == stock.code and source.params == stock.params:
            activity = SQL(
                "SELECT partner_id, company_id, is_deal, deal_date, amount::float8 AS amount, "
                "currency_id, 1 AS lead_count FROM leads"
            )
            if others:
                activity = SQL(
                    """%s
                     UNION ALL
                    SELECT partner_id, company_id, true, deal_date, amount::float8, currency_id, 0
                      FROM (%s) others""",
                    activity,
                    SQL(" UNION ALL ").join(others),
                )
        else:
            activity = SQL(
                """
                SELECT partner_id, company_id, false AS is_deal, deal_date,
                       0::float8 AS amount, NULL::integer AS currency_id, 1 AS lead_count
                  FROM leads
                 UNION ALL
                SELECT partner_id, company_id, true, deal_date, amount::float8, currency_id, 0
                  FROM (%s) deals
                """,
                source,
            )
        return SQL(
            """
            leads AS NOT MATERIALIZED (%(leads)s),
            activity AS (%(activity)s),
            converted AS (%(converted)s),
            days AS (
                SELECT partner_id, company_id,
                       CASE WHEN is_deal THEN deal_date END AS deal_date,
                       sum(lead_count) AS lead_count,
                       count(*) FILTER (WHERE is_deal AND amount >= 0) AS n,
                       sum(amount) FILTER (WHERE is_deal) AS amount
                       %(seen)s
                  FROM converted
                 -- an extended source need not filter: only what was asked
                 WHERE company_id = ANY(%(companies)s) %(partner_filter)s
                 GROUP BY 1, 2, 3
            )
            """,
            leads=self._lead_rows_sql(company_ids, partner_ids),
            activity=activity,
            seen=SQL(", min(deal_date) AS seen_date") if seen else SQL(),
            companies=list(company_ids),
            partner_filter=SQL("AND partner_id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL(),
            converted=self._convert_deals_sql(
                SQL("activity"), today, extra_columns=["is_deal", "lead_count"]
            ),
        )

    @api.model
    def _read_aggregate(self, query):
        """Rows of ``query`` (``_aggregate_sql``'s columns) as a DataFrame,
        the revenue rounded to cents as the profile stores it: a nightly run
        that reads the stored aggregates (``_run_frame``) and one that reads
        every deal then compute on the same numbers."""
        frame = self._read_frame(query)
        cents = 10 ** BATCH_DECIMALS["monetary"]
        frame["won_revenue"] = np.rint(frame["won_revenue"].to_numpy(dtype=float) * cents) / cents
        return frame

    @api.model
    def _read_frame(self, query):
        """Rows of ``query`` as a DataFrame, through COPY: psycopg2's row
        tuples and Python dates cost more than parsing CSV in C (queries
        give dates as numbers of days, or ISO strings that ``lib.lifecycle``
        reads with pandas).

        The CSV goes to a temporary file (on disk past ``READ_SPOOL_BYTES``)
        and is parsed by chunks of ``READ_CHUNK_ROWS`` rows: pandas' parser
        read whole holds several copies of its input at once. At 1,000,000
        partners the history rebuild's six million deal days (a 153 MB CSV)
        peaked at 1.4 GB read whole from memory, 0.9 GB so, and parsed
        faster (19.6 s against 22.3 s, the query included). The result is
        the same frame (a column gets the type it would have read whole)."""
        cr = self.env.cr
        with tempfile.SpooledTemporaryFile(max_size=READ_SPOOL_BYTES) as buf:
            cr.copy_expert(
                f"COPY ({cr.mogrify(query.code, query.params).decode()}) TO STDOUT "
                "WITH (FORMAT csv, HEADER)",
                buf,
            )
            buf.seek(0)
            # a header alone is one empty chunk, as read whole
            chunks = list(pd.read_csv(buf, chunksize=READ_CHUNK_ROWS))
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
