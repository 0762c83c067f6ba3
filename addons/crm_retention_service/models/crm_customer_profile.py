"""Service experience in the risk: each customer's signals from the contact
center over a window, and a health score fitted on the company's own past.

After each full recompute (``_after_run``):

1. **Fit** (``_fit_health``): on a sample of customers (at most
   ``HEALTH_SAMPLE``), at six past days 90, 120 ... 240 days ago: the
   customers active that day (their lifecycle history says so), their
   P(alive) that day (their deals before it, the company's churn model),
   their signals in the window before it, and whether they lapsed (entered
   At risk or Lost) in the 90 days after. The P(alive) feature is the churn
   model's forecast 90 days ahead with no new deal. ``lib.health.fit_logistic``
   (signs fixed: P(alive) lowers the risk, a bad experience raises it) gives
   the weights and their intervals; with fewer than ``MIN_LAPSES`` lapses
   the documented default weights are used. Stored on the churn model,
   with the day of the fit: the weights describe months of the company's
   past and move little from one night to the next, so they are refitted
   once every ``HEALTH_REFIT_DAYS`` (a week), or on *Recompute now*, and
   reused by the nights in between.
2. **Score** (``_score_health``): every customer's signals today and its
   health ``100 x (1 - P(lapse))`` in one UPDATE; when a stage rule of the
   company reads the health score, the stages of the customers whose score
   changed are evaluated again, so a rule such as
   ``[('health_score', '<', 30)]`` acts the same night.
"""

import numpy as np

from odoo import api, fields, models
from odoo.addons.crm_retention.lib import clv, definitions, lifecycle
from odoo.tools import SQL

from ..lib import health

# days before a day whose service signals count for it
WINDOW_DAYS = 180
# past days the weights are fitted on: 90, 120, ... 240 days before today
ANCHOR_DAYS = [90 + 30 * k for k in range(6)]
HEALTH_SAMPLE = 20000
# nights a fit of the weights is reused for before the next refit
HEALTH_REFIT_DAYS = 7
# the profile's figures the health score reads besides its signals (_health_sql)
HEALTH_INPUTS = ("won_count", "deal_days", "first_deal_date", "last_deal_date", "p_alive")
ACTIVE_KINDS = ("new", "active", "won_back")
LAPSED_KINDS = ("at_risk", "lost")


class CrmCustomerProfile(models.Model):
    _inherit = "crm.customer.profile"

    # the customer's number, with the Call button of the contact center
    partner_phone = fields.Char(related="partner_id.phone", string="Phone")
    service_low_ratings = fields.Integer(
        string="Low Ratings", readonly=True, help="Ratings of 1 or 2 out of 5, last 180 days."
    )
    service_missed_calls = fields.Integer(
        string="Missed Calls", readonly=True, help="Missed calls still without a callback."
    )
    service_sla_breaches = fields.Integer(
        string="SLA Breaches", readonly=True, help="Requests answered after their deadline."
    )
    service_escalations = fields.Integer(string="Escalations", readonly=True)
    service_complaints = fields.Integer(
        string="Complaints", readonly=True, help="Interactions with the outcome Complaint."
    )
    # whole points: the score moves a little every day with P(alive), and
    # a change of a tenth is not worth rewriting the profile for
    health_score = fields.Float(
        digits=(16, 0),
        readonly=True,
        aggregator="avg",
        help="0-100: the chance the customer does not lapse in the next 90 days, from its "
        "P(alive) and its service experience, weighted by what predicted lapses in your own "
        "past (see the churn model). Stage rules can use it.",
    )

    @api.model
    def _prepare_run(self, company, model, today, full=False):
        """On a refit night (weights a week old, none yet, or *Recompute
        now*), the health weights are fitted when the night starts, right
        after the churn model, on the history up to the night before: the
        run's batches then score every profile they rewrite with them
        (``_batch_derived_sql``), with no second UPDATE of every profile
        after the run (the first run after install wrote 550,000 profiles
        twice at 1M customers)."""
        result = super()._prepare_run(company, model, today, full=full)
        churn = self.env["crm.retention.model"].sudo()._get_for_company(company)
        if churn._recent_health_coef(today, HEALTH_REFIT_DAYS) is None or self.env.context.get(
            "health_refit"
        ):
            with self._timed("health score"):
                churn._store_health_fit(self._fit_health(company, today), today)
            # with the run's work table: a run that resumes scores with them
            self._commit_progress()
        return result

    @api.model
    def _after_run(self, company, today):
        with self._timed("health score"):
            model = self.env["crm.retention.model"].sudo()._get_for_company(company)
            coef = model._recent_health_coef(today, HEALTH_REFIT_DAYS)
            if coef is None:
                # no weights for the night (a run prepared by an older
                # version): fitted now, every profile scored
                fit = self._fit_health(company, today)
                model._store_health_fit(fit, today)
                self._score_health(company, today, fit.coef)
            else:
                # the run's batches scored every profile they rewrote, with
                # the night's weights and yesterday's signals: what is left
                # are the customers whose signals moved
                self._score_health(company, today, coef, signals_changed=True)
        result = super()._after_run(company, today)
        with self._timed("queue priorities"):
            # the night's stages and values at risk (health rules included)
            # reach the contact center's open requests
            self.env["crm.interaction"]._refresh_customer_priorities(company)
        return result

    @api.model
    def _recompute_partners(self, partner_ids, company, today=None):
        """A deal won (or lost) moves the customer's stage at once: so do
        the priorities of its open requests."""
        result = super()._recompute_partners(partner_ids, company, today=today)
        partners = self.env["res.partner"].with_context(active_test=False).browse(partner_ids)
        self.env["crm.interaction"]._refresh_customer_priorities(
            company, partners.commercial_partner_id.ids
        )
        return result

    @api.model
    def _service_signals_sql(self, company, days, partner_ids=None):
        """Per (customer, day of ``days``: an SQL array of dates) the counts of
        ``lib.health.SIGNALS`` in the window before the day's end; of the
        customers ``partner_ids`` when given."""
        return SQL(
            """
            SELECT i.commercial_partner_id AS partner_id, a.day,
                   count(*) FILTER (WHERE i.rating_last_value BETWEEN 1 AND 2) AS low_ratings,
                   count(*) FILTER (WHERE i.state = 'missed') AS missed_calls,
                   count(*) FILTER (WHERE i.is_overdue) AS sla_breaches,
                   count(*) FILTER (WHERE i.is_escalated) AS escalations,
                   count(*) FILTER (WHERE i.outcome = 'complaint') AS complaints
              FROM crm_interaction i
              JOIN unnest(%(days)s::date[]) AS a(day)
                ON i.date < a.day + 1 AND i.date >= a.day + 1 - %(window)s
             WHERE i.company_id = %(company)s AND i.commercial_partner_id IS NOT NULL
                   %(partners)s
             GROUP BY 1, 2
            """,
            days=days,
            window=WINDOW_DAYS,
            company=company.id,
            partners=SQL("AND i.commercial_partner_id = ANY(%s)", partner_ids)
            if partner_ids is not None
            else SQL(),
        )

    @api.model
    def _fit_health(self, company, today):
        """The health weights of ``company`` (see the module)."""
        cr = self.env.cr
        self.env.flush_all()
        anchors = [fields.Date.subtract(today, days=d) for d in ANCHOR_DAYS]
        cr.execute(
            SQL(
                "SELECT count(*) FROM crm_customer_profile WHERE company_id = %s AND won_count > 0",
                company.id,
            )
        )
        step = max(1, -(-cr.fetchone()[0] // HEALTH_SAMPLE))
        cr.execute(
            SQL(
                """
                WITH a(day) AS (SELECT unnest(%(anchors)s::date[])),
                sample AS (
                    SELECT id, partner_id FROM crm_customer_profile
                     WHERE company_id = %(company)s AND won_count > 0 AND mod(id, %(step)s) = 0
                ),
                state AS (
                    SELECT DISTINCT ON (h.profile_id, a.day) h.profile_id, a.day, s.kind
                      FROM crm_lifecycle_history h
                      JOIN sample sm ON sm.id = h.profile_id
                      JOIN a ON h.date < a.day + 1
                      JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                     ORDER BY h.profile_id, a.day, h.date DESC, h.id DESC
                )
                SELECT sm.partner_id, st.day - DATE '1970-01-01',
                       EXISTS (SELECT 1 FROM crm_lifecycle_history h
                                 JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                                WHERE h.profile_id = st.profile_id
                                  AND h.date >= st.day + 1 AND h.date < st.day + 1 + %(horizon)s
                                  AND s.kind = ANY(%(lapsed)s)
                                  -- the books redone (a merge, new stage rules)
                                  AND h.reason <> ALL(%(not_flow)s))
                  FROM state st JOIN sample sm ON sm.id = st.profile_id
                 WHERE st.kind = ANY(%(active)s)
                """,
                anchors=anchors,
                company=company.id,
                step=step,
                horizon=health.HORIZON_DAYS,
                not_flow=list(definitions.NOT_FLOW_REASONS),
                lapsed=list(LAPSED_KINDS),
                active=list(ACTIVE_KINDS),
            )
        )
        rows = np.array(cr.fetchall(), dtype=np.int64).reshape(-1, 3)
        if len(rows) == 0 or rows[:, 2].sum() < health.MIN_LAPSES:
            return health.default_fit(len(rows), int(rows[:, 2].sum()) if len(rows) else 0)
        partners = np.unique(rows[:, 0])
        # each sampled customer's purchase days (deal days with a purchase)
        deals = self._read_frame(
            SQL(
                "WITH %s SELECT partner_id, deal_date - DATE '1970-01-01' AS day FROM days "
                "WHERE n > 0",
                self._deal_days_sql([company.id], today, partners.tolist()),
            )
        )
        # only the customer-days that had bought already
        count, first, last = self._purchases_before(rows, deals)
        known = count > 0
        rows, count, first, last = rows[known], count[known], first[known], last[known]
        p_alive = self._p_alive_ahead(company, rows[:, 1], count, first, last)
        signals = self._signals_frame(company, anchors, rows[:, 0], rows[:, 1], partners)
        x = health.features(p_alive, signals, one_time=count == 1)
        y = rows[:, 2].astype(bool)
        if y.sum() < health.MIN_LAPSES:
            return health.default_fit(len(y), int(y.sum()))
        return health.fit_logistic(x, y, monotone=True)

    @api.model
    def _purchases_before(self, rows, deals):
        """For each ``rows`` (partner, day number): its number of purchase
        days up to that day and the first and last of them (``deals``:
        partner_id, day), vectorised: one sort of the deals, binary searches
        on a (partner, day) key."""
        shift = np.int64(1 << 21)  # day numbers stay below 2**21 (year 7700)
        keys = np.sort(
            deals["partner_id"].to_numpy(dtype=np.int64) * shift
            + deals["day"].to_numpy(dtype=np.int64)
        )
        day = keys % shift
        start = np.searchsorted(keys, rows[:, 0] * shift, side="left")
        stop = np.searchsorted(keys, rows[:, 0] * shift + rows[:, 1], side="right")
        count = stop - start
        bought = count > 0
        first = np.where(bought, day[np.minimum(start, len(day) - 1)], 0)
        last = np.where(bought, day[np.maximum(stop - 1, 0)], 0)
        return count, first, last

    @api.model
    def _p_alive_ahead(self, company, days, count, first, last):
        """P(alive) ``lib.health.HORIZON_DAYS`` after each of ``days`` (day
        numbers) with no deal after it, of a customer with ``count``
        purchase days from ``first`` to ``last`` by then, with the company's
        churn model (1 without a model)."""
        params = self.env["crm.retention.model"].sudo()._get_for_company(company)._get_params()
        if params is None:
            return np.ones(len(days))
        unit = lifecycle.TIME_UNIT_DAYS
        return clv.p_alive(
            params["bgnbd"],
            (count - 1).astype(float),
            (last - first) / unit,
            (days + health.HORIZON_DAYS - first) / unit,
        )

    @api.model
    def _signals_frame(self, company, anchors, partners, days, sample):
        """The signal counts of each (partner, day number) pair, zeros when
        none; only the ``sample`` customers' interactions are read."""
        cr = self.env.cr
        cr.execute(self._service_signals_sql(company, anchors, sample.tolist()))
        counts = {
            (row[0], (row[1] - fields.Date.to_date("1970-01-01")).days): row[2:]
            for row in cr.fetchall()
        }
        zero = (0,) * len(health.SIGNALS)
        return np.array(
            [counts.get((int(p), int(d)), zero) for p, d in zip(partners, days, strict=True)],
            dtype=float,
        ).reshape(len(partners), len(health.SIGNALS))

    @api.model
    def _batch_derived_sql(self, today=None, company=None):
        """The health score in the batch's row write of the nightly run:
        every profile the run rewrites gets it there, from its new deals
        and its stored signals, with no second write of the row;
        ``_after_run`` then rewrites only the customers whose signals
        changed. The weights are the night's: a refit night fits them
        before the batches (``_prepare_run``). Without recent weights (a won
        deal when none were ever fitted) the score is kept."""
        derived = super()._batch_derived_sql(today, company)
        model = coef = None
        if today is not None and company is not None:
            model = self.env["crm.retention.model"].sudo()._get_for_company(company)
            coef = model._recent_health_coef(today, HEALTH_REFIT_DAYS)
        if coef is None:
            derived["health_score"] = SQL("p.health_score")
            return derived
        derived["health_score"] = self._health_sql(
            model,
            today,
            coef,
            {
                **{c: self._batch_value_sql(c) for c in HEALTH_INPUTS},
                **{name: SQL("COALESCE(%s, 0)", SQL.identifier("p", f"service_{name}"))
                   for name in health.SIGNALS},
            },
        )  # fmt: skip
        return derived

    @api.model
    def _health_sql(self, model, today, coef, values):
        """The health score (0-100, whole points; NULL for a customer who
        never bought) as an SQL expression of ``values``: ``{name: SQL}`` for
        ``won_count``, ``deal_days``, ``first_deal_date``, ``last_deal_date``
        ``p_alive`` and the signal counts (``health.SIGNALS``, stored on the
        profile as ``service_<name>``). The P(alive) feature is
        BG/NBD's (paper eq. 13) ``HORIZON_DAYS`` ahead with no new deal, in
        closed form; 1 for a customer who never bought twice. ``model``:
        the company's churn model (its BG/NBD parameters)."""
        b = [float(c) for c in coef]
        params = model._get_params()
        # in float8 throughout, as numpy computes it: power(), ln() and exp()
        # of numeric cost about ten times more (some 7 s of CPU per million
        # customers in every nightly run's batches)
        if params is None:
            ahead = SQL("%s::float8", values["p_alive"])
        else:
            bg = params["bgnbd"]
            ahead = SQL(
                """CASE WHEN %(days)s > 1
                        THEN 1.0::float8 / (1 + %(a)s::float8 / (%(b)s::float8 + %(days)s - 2)
                             * power((%(alpha)s::float8
                                      + (%(today)s::date + %(h)s - %(first)s)::float8 / %(u)s)
                                     / (%(alpha)s::float8 + (%(last)s - %(first)s)::float8 / %(u)s),
                                     %(r)s::float8 + %(days)s - 1))
                        ELSE 1.0::float8 END""",
                days=values["deal_days"],
                first=values["first_deal_date"],
                last=values["last_deal_date"],
                a=bg.a,
                b=bg.b,
                alpha=bg.alpha,
                r=bg.r,
                today=today,
                h=health.HORIZON_DAYS,
                u=lifecycle.TIME_UNIT_DAYS,
            )
        clipped = SQL(
            "LEAST(GREATEST(%s, %s::float8), %s::float8)", ahead, health.P_CLIP[0], health.P_CLIP[1]
        )
        return SQL(
            """CASE WHEN %(won)s > 0 THEN round((100.0::float8 / (1 + exp(
                   %(b0)s::float8 + %(b1)s::float8 * ln(%(p)s / (1 - %(p)s))
                   + %(b2)s::float8 * ln((1 + %(low_ratings)s)::float8)
                   + %(b3)s::float8 * ln((1 + %(missed_calls)s)::float8)
                   + %(b4)s::float8 * ln((1 + %(sla_breaches)s)::float8)
                   + %(b5)s::float8 * ln((1 + %(escalations)s)::float8)
                   + %(b6)s::float8 * ln((1 + %(complaints)s)::float8)
                   + %(b7)s::float8 * (%(days)s = 1)::int)))::numeric) END""",
            won=values["won_count"],
            days=values["deal_days"],
            p=clipped,
            **{name: values[name] for name in health.SIGNALS},
            **{f"b{i}": v for i, v in enumerate(b)},
        )

    @api.model
    def _score_health(self, company, today, coef, signals_changed=False):
        """Signals of today and the health score of every customer of
        ``company``, in one UPDATE of the rows that change; stages evaluated
        again when a rule reads the score. ``signals_changed``: only the
        customers whose signals changed (the nightly run scored the others
        in its batches, ``_batch_derived_sql``)."""
        cr = self.env.cr
        self.env.flush_all()
        fresh = {name: SQL("COALESCE(%s, 0)", SQL.identifier("s", name)) for name in health.SIGNALS}
        # a profile never scored holds no signals (NULL): as none (0), so
        # that the first run does not rewrite every new profile for them
        stored = SQL(", ").join(
            SQL("COALESCE(%s, 0)", SQL.identifier("p", f"service_{n}")) for n in health.SIGNALS
        )
        new_signals = SQL(", ").join(SQL.identifier("n", n) for n in health.SIGNALS)
        cr.execute(
            SQL(
                """
                WITH signals AS (%(signals)s),
                new AS (
                    SELECT p.id, %(fresh)s, %(health)s AS health
                      FROM crm_customer_profile p
                      LEFT JOIN signals s ON s.partner_id = p.partner_id
                     WHERE p.company_id = %(company)s
                )
                UPDATE crm_customer_profile p
                   SET %(assign)s, health_score = n.health
                  FROM new n
                 WHERE p.id = n.id
                   AND %(which)s
                RETURNING p.id
                """,
                signals=self._service_signals_sql(company, [today]),
                company=company.id,
                fresh=SQL(", ").join(
                    SQL("%s AS %s", expr, SQL.identifier(name)) for name, expr in fresh.items()
                ),
                health=self._health_sql(
                    self.env["crm.retention.model"].sudo()._get_for_company(company),
                    today,
                    coef,
                    {
                        **{c: SQL.identifier("p", c) for c in HEALTH_INPUTS},
                        **fresh,
                    },
                ),  # fmt: skip
                assign=SQL(", ").join(
                    SQL("%s = %s", SQL.identifier(f"service_{n}"), SQL.identifier("n", n))
                    for n in health.SIGNALS
                ),
                which=SQL("(%s) IS DISTINCT FROM (%s)", stored, new_signals)
                if signals_changed
                else SQL(
                    "(p.health_score, %s) IS DISTINCT FROM (n.health, %s)", stored, new_signals
                ),
            )
        )
        changed = [row[0] for row in cr.fetchall()]
        self.invalidate_model()
        stages = self.env["crm.lifecycle.stage"].sudo()._get_company_stages(company)
        if changed and any("health_score" in (s.rule_domain or "") for s in stages):
            self._evaluate_stages(company, changed, today)
        return changed
