import logging
from datetime import date, timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Stage kinds of a customer (has bought and is not lost), and of an active one.
CUSTOMER_KINDS = ["new", "active", "at_risk", "won_back"]
ACTIVE_KINDS = ["new", "active", "won_back"]
# The earliest day a back-fill may start: CRM history before it is not
# plausible, and a typo like 0001-01-01 would ask for 739,000 days.
BACKFILL_MIN_DATE = date(2000, 1, 1)
# ir.config_parameter key of a company's queued back-fill ("from,to", ISO)
BACKFILL_PENDING_KEY = "crm_kpi.backfill_pending."


class CrmKpiSnapshot(models.Model):
    """The customer base of one day, per slice, frozen.

    One row per (date, company, sales team, salesperson, country, lifecycle
    stage, set of customer tags, acquisition channel) that had a customer or
    a movement that day. A row holds

    * stocks at the start (``*_open`` = the previous day's close of the same
      slice) and at the end of the day (``*_close``): profiles, customers,
      active customers and their predicted CLV;
    * the day's flows: acquired (first won deal that day), lost (entered a
      stage of kind Lost), won back (entered Won back), won deals and revenue.

    The stage valid on day D is the to-stage of the customer's last
    ``crm.lifecycle.history`` row dated on or before D (UTC): a later stage
    change never rewrites the past. Team, salesperson, country and tags are
    those of the customer when the day is snapshotted, so a customer who
    moves to another team leaves the old team's slice (an ``open`` without
    ``close``) and enters the new one; a back-fill of past days uses today's
    values.

    Tags are a many2many: a row holds the customers with exactly the same
    *set* of tags (``category_key``: the sorted tag ids) and links each tag
    of the set (``category_ids``). Grouping by tag then counts a customer
    under each of its tags, while a total without that grouping counts it
    once. The acquisition channel (``medium_id``) is the UTM medium of the
    customer's first won opportunity that is not a refund (ties: lowest id)
    among those dated on or before the day. Revenue is in the company
    currency at the deal date (``_convert_deals_sql`` of crm_retention, the
    suite's one conversion rule).

    Written only by ``_snapshot_day`` (the daily cron ``_cron_snapshot`` and
    ``_backfill``): one statement per (company, day) inserting the rows and
    their tag links, so a day is complete or absent and an interrupted run
    resumes at the next missing day.
    ``crm.kpi.customer.report`` turns the rows into period KPIs.
    """

    _name = "crm.kpi.snapshot"
    _inherit = "crm.kpi.snapshot.mixin"
    _description = "Customer KPI Snapshot"
    _order = "date desc, id desc"
    _log_access = False

    # the slice's tag set and channel (date, team, ... and measures: the mixin)
    category_key = fields.Char(
        string="Customer Tag Set",
        readonly=True,
        help="Sorted ids of the customer tags of the slice, comma-separated; empty without tags.",
    )
    # crm.kpi.customer.report reads the same relation (its ids are the snapshot's)
    category_ids = fields.Many2many(
        "res.partner.category",
        "crm_kpi_snapshot_category_rel",
        "snapshot_id",
        "category_id",
        string="Customer Tags",
        readonly=True,
    )
    medium_id = fields.Many2one("utm.medium", string="Acquisition Channel", readonly=True)

    def init(self):
        # the cron's "last day done" and the report's period scans
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS crm_kpi_snapshot_company_date_idx "
            "ON crm_kpi_snapshot (company_id, date)"
        )

    # ------------------------------------------------------------------
    # BUSINESS: cron and back-fill
    # ------------------------------------------------------------------

    @api.model
    def _cron_snapshot(self):
        """Snapshot every company up to yesterday, resuming after the last day done.

        A company without any snapshot starts ``crm_kpi.snapshot_initial_days``
        days ago (default 365). At most ``crm_kpi.snapshot_max_days`` days are
        written per company and run (default 400); the rest waits for the next
        run, so a first run on a large database cannot hold the cron forever.
        """
        params = self.env["ir.config_parameter"].sudo()
        initial_days = int(params.get_param("crm_kpi.snapshot_initial_days", 365))
        max_days = int(params.get_param("crm_kpi.snapshot_max_days", 400))
        last_day = fields.Date.context_today(self) - timedelta(days=1)
        todo = []
        for company in self.env["res.company"].sudo().search([]):
            self.env.cr.execute(
                SQL("SELECT max(date) FROM crm_kpi_snapshot WHERE company_id = %s", company.id)
            )
            done = self.env.cr.fetchone()[0]
            first = (
                done + timedelta(days=1) if done else last_day - timedelta(days=initial_days - 1)
            )
            days = [
                first + timedelta(days=i) for i in range(min((last_day - first).days + 1, max_days))
            ]
            todo.extend((company, day) for day in days)
        for n, (company, day) in enumerate(todo, 1):
            self._snapshot_day(company, day)
            self._commit_progress(done=n, remaining=len(todo) - n)
        # the cohort table is small and rebuilt whole, once a day
        self.env["crm.kpi.cohort"]._refresh()
        self._commit_progress(done=len(todo))
        return len(todo)

    @api.model
    def _backfill_period_error(self, date_from, date_to):
        """The message explaining why ``date_from`` .. ``date_to`` cannot be
        back-filled, or None when the period is valid."""
        today = fields.Date.context_today(self)
        if not date_from or not date_to or date_from > date_to:
            return self.env._("The back-fill period needs a start date before its end.")
        if date_to > today:
            return self.env._("Snapshots cannot be taken of future days.")
        if date_from < BACKFILL_MIN_DATE:
            return self.env._(
                "Snapshots can be rebuilt from %(first)s on, not from %(asked)s: "
                "check the start date.",
                first=BACKFILL_MIN_DATE,
                asked=date_from,
            )
        return None

    @api.model
    def _backfill_queue(self, date_from, date_to, companies):
        """Queue the back-fill of ``date_from`` .. ``date_to`` for
        ``companies`` and wake the back-fill cron (``_cron_backfill``) up.

        A company's pending period is one ``ir.config_parameter``
        (``crm_kpi.backfill_pending.<company id>`` = "from,to"); a new request
        for a company that still has one extends it to cover both. Example::

            env["crm.kpi.snapshot"]._backfill_queue(date(2020, 1, 1), date(2025, 12, 31), company)
        """
        date_from = fields.Date.to_date(date_from)
        date_to = fields.Date.to_date(date_to)
        if error := self._backfill_period_error(date_from, date_to):
            raise UserError(error)
        pending = self._backfill_pending()
        # sudo: the queue is a system parameter; callers restricted the
        # companies to those the requesting manager is allowed in
        params = self.env["ir.config_parameter"].sudo()
        for company in companies:
            start, end = pending.get(company, (date_from, date_to))
            start, end = min(start, date_from), max(end, date_to)
            params.set_param(f"{BACKFILL_PENDING_KEY}{company.id}", f"{start},{end}")
        self.env.ref("crm_kpi.ir_cron_kpi_snapshot_backfill")._trigger()

    @api.model
    def _backfill_pending(self):
        """{company: (next day to write, last day)} of the queued back-fills,
        by company id."""
        # sudo: reading the queue (system parameters), not business data
        params = (
            self.env["ir.config_parameter"]
            .sudo()
            .search([("key", "=like", f"{BACKFILL_PENDING_KEY}%")])
        )
        pending = {}
        for param in params:
            try:
                company_id = int(param.key.removeprefix(BACKFILL_PENDING_KEY))
                start, end = (fields.Date.to_date(d) for d in param.value.split(","))
            except ValueError:
                start = end = None
            # a parameter edited by hand must not stop (or flood) the cron
            if error := self._backfill_period_error(start, end):
                _logger.warning("Ignored KPI back-fill %s = %r: %s", param.key, param.value, error)
                continue
            company = self.env["res.company"].sudo().browse(company_id)
            if company.exists():
                pending[company] = (start, end)
        return dict(sorted(pending.items(), key=lambda item: item[0].id))

    @api.model
    def _cron_backfill(self):
        """Write the next days of the queued back-fills (``_backfill_queue``).

        One run writes at most ``crm_kpi.backfill_batch_days`` company-days
        (default 7) in date order, then moves each company's pending start
        past them and commits (outside tests): a run that dies half-way
        rolls its batch back and the next run writes it again. The cron
        framework calls the method again while it reports remaining days.
        """
        params = self.env["ir.config_parameter"].sudo()
        batch = max(int(params.get_param("crm_kpi.backfill_batch_days", 7)), 1)
        pending = self._backfill_pending()
        remaining = sum((end - start).days + 1 for start, end in pending.values())
        done = 0
        for company, (start, end) in pending.items():
            day = start
            while day <= end and done < batch:
                self._snapshot_day(company, day)
                day += timedelta(days=1)
                done += 1
            key = f"{BACKFILL_PENDING_KEY}{company.id}"
            params.set_param(key, f"{day},{end}" if day <= end else False)
            if done >= batch:
                break
        self._commit_progress(done=done, remaining=remaining - done)
        return done

    @api.model
    def _backfill(self, date_from, date_to, companies=None):
        """Rewrite the snapshots of ``date_from`` .. ``date_to`` (inclusive).

        Days are written in date order, each in its own transaction (outside
        tests), so the start stock of a day always reads the day before as it
        was just rewritten. Example::

            env["crm.kpi.snapshot"]._backfill(date(2025, 1, 1), date(2025, 12, 31))
        """
        date_from = fields.Date.to_date(date_from)
        date_to = fields.Date.to_date(date_to)
        if error := self._backfill_period_error(date_from, date_to):
            raise UserError(error)
        companies = companies or self.env["res.company"].sudo().search([])
        days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
        total = len(days) * len(companies)
        n = 0
        for day in days:
            for company in companies:
                self._snapshot_day(company, day)
                n += 1
                self._commit_progress(done=n, remaining=total - n)
        return n

    @api.model
    def _snapshot_day(self, company, day):
        """Replace the rows of (``company``, ``day``) in one statement.

        Why SQL: one set-based pass over the profiles and the day's history
        and deals; the ORM would read every profile of the company.
        """
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT EXISTS (SELECT 1 FROM crm_kpi_snapshot WHERE company_id = %s AND date = %s)",
                company.id,
                day - timedelta(days=1),
            )
        )
        previous_done = cr.fetchone()[0]
        cr.execute(
            SQL("DELETE FROM crm_kpi_snapshot WHERE company_id = %s AND date = %s", company.id, day)
        )
        # Why no JIT: the planner has no statistics on the CTEs, so its row
        # estimates for their joins are blind and the cost can pass
        # jit_optimize_above_cost; compiling then takes seconds for a
        # statement that runs in a fraction of that. Local to the statement.
        cr.execute("SELECT current_setting('jit')")
        jit = cr.fetchone()[0]
        cr.execute("SELECT set_config('jit', 'off', true)")
        cr.execute(self._snapshot_sql(company, day, previous_done))
        cr.execute(SQL("SELECT set_config('jit', %s, true)", jit))
        # the rollups the usual pivots read: without tags and channels, per tag
        self.env["crm.kpi.snapshot.total"]._rewrite_day(company, day)
        self.env["crm.kpi.snapshot.tag"]._rewrite_day(company, day)
        self.invalidate_model()

    @api.model
    def _stage_at_sql(self, company, day):
        """Every profile's stage at the end of ``day``: the to-stage of its
        last history row dated before the next midnight (UTC)."""
        return SQL(
            """
            SELECT DISTINCT ON (h.profile_id) h.profile_id, h.stage_id
              FROM crm_lifecycle_history h
             WHERE h.company_id = %(company)s AND h.date < %(until)s
             ORDER BY h.profile_id, h.date DESC, h.id DESC
            """,
            company=company.id,
            until=day + timedelta(days=1),
        )

    @api.model
    def _teams_sql(self, company):
        """Each salesperson's first active team in the company, as
        ``res.users.sale_team_id`` picks it (membership creation order)."""
        return SQL(
            """
            SELECT DISTINCT ON (m.user_id) m.user_id, m.crm_team_id
              FROM crm_team_member m
              JOIN crm_team t ON t.id = m.crm_team_id
             WHERE m.active AND t.active
               AND (t.company_id IS NULL OR t.company_id = %s)
             ORDER BY m.user_id, m.create_date, m.id
            """,
            company.id,
        )

    @api.model
    def _tag_sets_sql(self):
        """Each customer's set of tags as a canonical key: its tag ids,
        sorted, comma-separated (customers without tags have no row)."""
        return SQL(
            """
            SELECT r.partner_id,
                   string_agg(r.category_id::text, ',' ORDER BY r.category_id) AS category_key
              FROM res_partner_res_partner_category_rel r
             GROUP BY r.partner_id
            """
        )

    @api.model
    def _channels_sql(self, company, day):
        """Each customer's acquisition channel on ``day``: the UTM medium of
        its first won opportunity that is not a refund, dated on or before
        the day (ties: lowest id). Customers whose first deal has no medium
        have no row.

        Why a scan of the won opportunities: the medium is on the lead and
        no deal aggregate carries it. One DISTINCT ON over the won
        opportunities of the company (the day's deals already cost a scan
        of crm_lead) instead of a lookup per customer. The opportunity, its
        date and its company follow ``_lead_rows_sql`` of crm_retention.
        """
        return SQL(
            """
            SELECT partner_id, medium_id FROM (
                SELECT DISTINCT ON (p.commercial_partner_id)
                       p.commercial_partner_id AS partner_id, l.medium_id
                  FROM crm_lead l
                  JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
                  JOIN res_partner p ON p.id = l.partner_id
                  LEFT JOIN res_users u ON u.id = l.user_id
                 WHERE l.active AND l.type = 'opportunity'
                   AND COALESCE(l.company_id, p.company_id, u.company_id) = %(company)s
                   AND COALESCE(l.expected_revenue, 0) >= 0
                   AND COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date
                       <= %(day)s
                 ORDER BY p.commercial_partner_id,
                          COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date,
                          l.id
            ) first_deal
             WHERE medium_id IS NOT NULL
            """,
            company=company.id,
            day=day,
        )

    @api.model
    def _attributes_sql(self, company):
        """The slice of every profile: its salesperson (the profile's owner:
        the customer's salesperson, else its latest opportunity's), the salesperson's
        team (CTE ``teams``), its country, its tag set (CTE ``tag_sets``)
        and its acquisition channel (CTE ``channels``)."""
        return SQL(
            """
            SELECT pr.id AS profile_id, pr.partner_id, pr.user_id, rp.country_id,
                   tm.crm_team_id AS team_id, pr.predicted_clv,
                   tg.category_key, ch.medium_id
              FROM crm_customer_profile pr
              JOIN res_partner rp ON rp.id = pr.partner_id
              LEFT JOIN teams tm ON tm.user_id = pr.user_id
              LEFT JOIN tag_sets tg ON tg.partner_id = pr.partner_id
              LEFT JOIN channels ch ON ch.partner_id = pr.partner_id
             WHERE pr.company_id = %s
            """,
            company.id,
        )

    @api.model
    def _snapshot_sql(self, company, day, previous_done):
        """INSERT of the rows of one (company, day) and of their tag links.
        The start stocks come from the previous day's rows when they exist
        (so a customer who changed team leaves the old slice), else from the
        history."""
        if previous_done:
            opening = SQL(
                """
                SELECT team_id, user_id, country_id, stage_id, category_key, medium_id,
                       profile_close AS profile_open, customer_close AS customer_open,
                       active_close AS active_open,
                       0 AS profile_close, 0 AS customer_close, 0 AS active_close,
                       0 AS clv_close, 0 AS acquired, 0 AS lost, 0 AS won_back,
                       0 AS deals, 0 AS revenue
                  FROM crm_kpi_snapshot
                 WHERE company_id = %s AND date = %s AND profile_close > 0
                """,
                company.id,
                day - timedelta(days=1),
            )
        else:
            opening = SQL(
                """
                SELECT a.team_id, a.user_id, a.country_id, p.stage_id, a.category_key, a.medium_id,
                       1, (s.kind = ANY(%(customer)s))::int, (s.kind = ANY(%(active)s))::int,
                       0, 0, 0, 0, 0, 0, 0, 0, 0
                  FROM (%(stage_before)s) p
                  JOIN attrs a ON a.profile_id = p.profile_id
                  JOIN crm_lifecycle_stage s ON s.id = p.stage_id
                """,
                stage_before=self._stage_at_sql(company, day - timedelta(days=1)),
                customer=CUSTOMER_KINDS,
                active=ACTIVE_KINDS,
            )
        Profile = self.env["crm.customer.profile"]
        deals = Profile._deal_rows_sql([company.id])
        # the source restricted to the customer of the outer row: an index walk
        partner_deals = SQL("SELECT * FROM (%s) src WHERE src.partner_id = dd.partner_id", deals)
        return SQL(
            """
            WITH teams AS MATERIALIZED (%(teams)s),
            tag_sets AS MATERIALIZED (%(tag_sets)s),
            channels AS MATERIALIZED (%(channels)s),
            attrs AS MATERIALIZED (%(attrs)s),
            stage_now AS MATERIALIZED (%(stage_now)s),
            moves AS (
                SELECT a.team_id, a.user_id, a.country_id, sn.stage_id, a.category_key, a.medium_id,
                       0 AS profile_open, 0 AS customer_open, 0 AS active_open,
                       0 AS profile_close, 0 AS customer_close, 0 AS active_close, 0 AS clv_close,
                       0 AS acquired, (s.kind = 'lost')::int AS lost,
                       (s.kind = 'won_back')::int AS won_back, 0 AS deals, 0 AS revenue
                  FROM crm_lifecycle_history h
                  JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                  LEFT JOIN crm_lifecycle_stage fs ON fs.id = h.from_stage_id
                  JOIN attrs a ON a.profile_id = h.profile_id
                  LEFT JOIN stage_now sn ON sn.profile_id = h.profile_id
                 WHERE h.company_id = %(company)s
                   AND h.date >= %(day)s AND h.date < %(next_day)s
                   AND s.kind IN ('lost', 'won_back')
                   AND s.kind IS DISTINCT FROM fs.kind
            ),
            day_source AS (
                SELECT * FROM (%(deals)s) src WHERE src.deal_date = %(day)s
            ),
            day_deals AS (
                -- amounts in the company currency at the deal date
                SELECT d.partner_id, count(*) FILTER (WHERE d.amount >= 0) AS deals,
                       sum(d.amount) AS revenue
                  FROM (%(converted)s) d
                 GROUP BY d.partner_id
            ),
            acquired AS (
                -- first purchase (a deal that is not a refund) ever on this day
                SELECT dd.partner_id FROM day_deals dd
                 WHERE dd.deals > 0
                   AND NOT EXISTS (
                        SELECT 1 FROM (%(partner_deals)s) d
                         WHERE d.deal_date < %(day)s AND d.amount >= 0
                   )
            ),
            parts (team_id, user_id, country_id, stage_id, category_key, medium_id,
                   profile_open, customer_open, active_open, profile_close, customer_close,
                   active_close, clv_close, acquired, lost, won_back, deals, revenue) AS (
                %(opening)s
                UNION ALL
                SELECT a.team_id, a.user_id, a.country_id, sn.stage_id, a.category_key, a.medium_id,
                       0, 0, 0, 1, (s.kind = ANY(%(customer)s))::int,
                       (s.kind = ANY(%(active)s))::int,
                       CASE WHEN s.kind = ANY(%(customer)s) THEN COALESCE(a.predicted_clv, 0)
                            ELSE 0 END,
                       0, 0, 0, 0, 0
                  FROM stage_now sn
                  JOIN attrs a ON a.profile_id = sn.profile_id
                  JOIN crm_lifecycle_stage s ON s.id = sn.stage_id
                UNION ALL
                SELECT * FROM moves
                UNION ALL
                -- deals and acquisitions: the customer's slice, even without a profile yet
                SELECT COALESCE(a.team_id, tm.crm_team_id), COALESCE(a.user_id, rp.user_id),
                       COALESCE(a.country_id, rp.country_id), sn.stage_id,
                       tg.category_key, ch.medium_id,
                       0, 0, 0, 0, 0, 0, 0,
                       (dd.partner_id IN (SELECT partner_id FROM acquired))::int,
                       0, 0, dd.deals, dd.revenue
                  FROM day_deals dd
                  JOIN res_partner rp ON rp.id = dd.partner_id
                  LEFT JOIN attrs a ON a.partner_id = dd.partner_id
                  LEFT JOIN stage_now sn ON sn.profile_id = a.profile_id
                  LEFT JOIN teams tm ON tm.user_id = rp.user_id
                  LEFT JOIN tag_sets tg ON tg.partner_id = dd.partner_id
                  LEFT JOIN channels ch ON ch.partner_id = dd.partner_id
            ),
            inserted AS (
                INSERT INTO crm_kpi_snapshot
                       (date, company_id, team_id, user_id, country_id, stage_id, stage_kind,
                        category_key, medium_id, profile_open, customer_open, active_open,
                        profile_close, customer_close, active_close, clv_close,
                        acquired_count, lost_count, won_back_count, deal_count, revenue)
                SELECT %(day)s, %(company)s, r.team_id, r.user_id, r.country_id, r.stage_id,
                       s.kind, r.category_key, r.medium_id,
                       sum(r.profile_open), sum(r.customer_open), sum(r.active_open),
                       sum(r.profile_close), sum(r.customer_close), sum(r.active_close),
                       sum(r.clv_close), sum(r.acquired), sum(r.lost), sum(r.won_back),
                       sum(r.deals), sum(r.revenue)
                  FROM parts r
                  LEFT JOIN crm_lifecycle_stage s ON s.id = r.stage_id
                 GROUP BY r.team_id, r.user_id, r.country_id, r.stage_id, s.kind,
                          r.category_key, r.medium_id
                RETURNING id, category_key
            )
            -- one link per tag of the row's set; a tag deleted since the
            -- previous day (whose key an opening stock carries) is skipped
            INSERT INTO crm_kpi_snapshot_category_rel (snapshot_id, category_id)
            SELECT i.id, c.id
              FROM inserted i
             CROSS JOIN LATERAL unnest(string_to_array(i.category_key, ',')::int[]) AS t(id)
              JOIN res_partner_category c ON c.id = t.id
            """,
            teams=self._teams_sql(company),
            tag_sets=self._tag_sets_sql(),
            channels=self._channels_sql(company, day),
            attrs=self._attributes_sql(company),
            stage_now=self._stage_at_sql(company, day),
            opening=opening,
            deals=deals,
            # the rate of the deal date; the source is already cut at the day
            converted=Profile._convert_deals_sql(SQL("day_source"), day),
            partner_deals=partner_deals,
            company=company.id,
            day=day,
            next_day=day + timedelta(days=1),
            customer=CUSTOMER_KINDS,
            active=ACTIVE_KINDS,
        )

    @api.model
    def _commit_progress(self, done=0, remaining=0):
        """Commit a finished (company, day): a crash keeps the days done."""
        self.env["crm.customer.profile"]._commit_progress(done=done, remaining=remaining)
