"""Backtests of the churn model: does it predict this company's customers?

``crm.retention.backtest._run`` splits the company's past at a calibration
end, fits the model on the deals before it only, predicts the holdout that
follows and stores what a manager needs to judge the model: the
calibration / holdout table, the reliability of P(alive), the stage rules
against what customers did, and the At risk threshold that would have paid
best. The figures come from ``lib.backtest`` (pure); this file reads the
deals (the suite's one deal source, ``_deal_days_sql``) and the stages of
the calibration end (the lifecycle history), and stores the results.
"""

import logging
from datetime import timedelta

import numpy as np

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..lib import backtest, clv, lifecycle

_logger = logging.getLogger(__name__)

DEFAULT_HOLDOUT_WEEKS = 26
# a holdout shorter than this says little about purchases (most customers
# buy less often)
MIN_HOLDOUT_DAYS = 28

LINE_KINDS = [
    ("frequency", "Calibration / holdout"),
    ("decile", "Reliability"),
    ("stage", "Stage rules"),
    ("threshold", "Threshold"),
]


class CrmRetentionBacktest(models.Model):
    """One backtest of a company's churn model, as it was run: its split,
    the model fitted on the calibration period, and the results (in
    ``line_ids``, by kind, and summarised on the record).

    Run by the manager ("Run Backtest" on the churn model), monthly by cron,
    or in code through ``crm.retention.model._backtest(calibration_end)``.
    "Apply" sets the At risk churn probability to the suggested one.
    """

    _name = "crm.retention.backtest"
    _description = "Churn Model Backtest"
    _inherit = ["mail.thread"]
    _order = "run_date desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    model_id = fields.Many2one(
        "crm.retention.model", string="Churn Model", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="model_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    run_date = fields.Datetime(readonly=True, default=fields.Datetime.now)
    user_id = fields.Many2one("res.users", string="Run By", readonly=True)
    calibration_end = fields.Date(
        required=True, readonly=True,
        help="The model was fitted on the deals up to this day only, as it would have been "
        "then.",
    )  # fmt: skip
    holdout_end = fields.Date(
        required=True, readonly=True,
        help="The predictions are compared with the deals after the calibration end up to "
        "this day (the holdout).",
    )  # fmt: skip
    holdout_weeks = fields.Float(digits=(16, 1), readonly=True)
    # the model fitted on the calibration period
    n_customers = fields.Integer(
        string="Customers", readonly=True,
        help="Customers with a deal by the calibration end: the model predicts them.",
    )  # fmt: skip
    n_repeat_customers = fields.Integer(string="Repeat Buyers", readonly=True)
    fit_sample = fields.Integer(string="Sample Size", readonly=True)
    r = fields.Float(digits=(16, 4), readonly=True)
    alpha = fields.Float(digits=(16, 4), readonly=True)
    a = fields.Float(digits=(16, 4), readonly=True)
    b = fields.Float(digits=(16, 4), readonly=True)
    log_likelihood = fields.Float(digits=(16, 2), readonly=True)
    # results
    predicted_total = fields.Float(
        string="Predicted Purchases", digits=(16, 1), readonly=True,
        help="Repeat purchases (distinct deal days) the model expected in the holdout, all "
        "customers together.",
    )  # fmt: skip
    actual_total = fields.Float(
        string="Actual Purchases", digits=(16, 1), readonly=True,
        help="Repeat purchases (distinct deal days) that happened in the holdout.",
    )  # fmt: skip
    error_pct = fields.Float(
        string="Error (%)", digits=(16, 1), compute="_compute_error_pct", store=True,
        help="Predicted minus actual purchases, in percent of the actual: within about 10 % "
        "the model can be trusted for planning; far below 0 it is too pessimistic.",
    )  # fmt: skip
    bought_share = fields.Float(
        string="Customers Who Bought (%)", digits=(16, 1), readonly=True,
        help="Share of the customers who bought at least once in the holdout.",
    )  # fmt: skip
    brier_score = fields.Float(
        digits=(16, 4), readonly=True,
        help="Mean squared gap between each customer's predicted chance to buy in the "
        "holdout and what it did (1 bought, 0 not): 0 is perfect, lower is better; compare "
        "with the Brier score of always predicting the overall share (shown next to it).",
    )  # fmt: skip
    brier_baseline = fields.Float(
        string="Brier Score Without Model", digits=(16, 4), readonly=True,
        help="The Brier score of predicting the same chance (the overall share that bought) "
        "for every customer: the model is worth something when it scores lower.",
    )  # fmt: skip
    # threshold suggestion
    uplift_pp_used = fields.Float(string="Campaign Uplift (pp)", digits=(16, 1), readonly=True)
    contact_cost_used = fields.Monetary(string="Contact Cost", readonly=True)
    economics_source = fields.Selection(
        [("measured", "Measured on campaigns"), ("assumed", "Assumed in the settings")],
        readonly=True,
        help="Where the uplift and contact cost come from: the company's campaigns with a "
        "control group, or the assumptions of the Retention settings.",
    )
    current_threshold = fields.Float(
        string="Current P(alive) Cut",
        digits=(16, 2),
        readonly=True,
        help="Customers below this P(alive) are At risk under today's settings (one minus "
        "the At risk churn probability).",
    )
    current_net = fields.Monetary(string="Net Value at Current Cut", readonly=True)
    suggested_threshold = fields.Float(
        string="Suggested P(alive) Cut",
        digits=(16, 2),
        readonly=True,
        help="Contacting every customer below this P(alive) at the calibration end would "
        "have brought the most net value: kept customers' purchases times the campaign "
        "uplift, less the contact cost. Empty when no cut gains anything.",
    )
    suggested_at_risk_probability = fields.Float(
        string="Suggested At Risk Churn Probability", digits=(16, 2), readonly=True
    )
    suggested_net = fields.Monetary(string="Net Value at Suggested Cut", readonly=True)
    suggested_contacted = fields.Integer(string="Customers Contacted", readonly=True)
    applied = fields.Boolean(readonly=True, tracking=True)
    line_ids = fields.One2many("crm.retention.backtest.line", "backtest_id", string="Results")
    frequency_line_ids = fields.One2many(
        "crm.retention.backtest.line", "backtest_id", domain=[("kind", "=", "frequency")]
    )
    decile_line_ids = fields.One2many(
        "crm.retention.backtest.line", "backtest_id", domain=[("kind", "=", "decile")]
    )
    stage_line_ids = fields.One2many(
        "crm.retention.backtest.line", "backtest_id", domain=[("kind", "=", "stage")]
    )
    threshold_line_ids = fields.One2many(
        "crm.retention.backtest.line", "backtest_id", domain=[("kind", "=", "threshold")]
    )
    calibration_chart = fields.Json(compute="_compute_charts")
    reliability_chart = fields.Json(compute="_compute_charts")
    threshold_chart = fields.Json(compute="_compute_charts")
    summary = fields.Char(compute="_compute_summary")

    @api.depends("calibration_end", "holdout_end")
    def _compute_name(self):
        for test in self:
            test.name = self.env._(
                "Backtest %(start)s to %(end)s",
                start=fields.Date.to_string(test.calibration_end),
                end=fields.Date.to_string(test.holdout_end),
            )

    @api.depends("predicted_total", "actual_total")
    def _compute_error_pct(self):
        for test in self:
            test.error_pct = (
                (test.predicted_total - test.actual_total) / test.actual_total * 100
                if test.actual_total
                else 0.0
            )

    @api.depends("predicted_total", "actual_total", "n_customers")
    def _compute_summary(self):
        for test in self:
            predicted = round(test.predicted_total)
            actual = round(test.actual_total)
            error = test.error_pct
            test.summary = self.env._(
                "The model fitted on the deals up to %(start)s expected %(predicted)s repeat "
                "purchases from these %(customers)s customers by %(end)s; %(actual)s "
                "happened (%(error)+.1f %%).",
                start=fields.Date.to_string(test.calibration_end),
                end=fields.Date.to_string(test.holdout_end),
                predicted=predicted,
                actual=actual,
                customers=test.n_customers,
                error=error,
            )

    @api.depends("frequency_line_ids", "decile_line_ids", "threshold_line_ids")
    def _compute_charts(self):
        _ = self.env._
        for test in self:
            freq = test.frequency_line_ids
            deciles = test.decile_line_ids
            cuts = test.threshold_line_ids
            test.calibration_chart = {
                "type": "bar",
                "labels": freq.mapped("label"),
                "datasets": [
                    {
                        "label": _("Predicted"),
                        "data": [round(v, 3) for v in freq.mapped("predicted")],
                    },
                    {"label": _("Actual"), "data": [round(v, 3) for v in freq.mapped("actual")]},
                ],
                "x_title": _("Repeat purchases in the calibration period"),
                "y_title": _("Purchases per customer in the holdout"),
            }
            test.reliability_chart = {
                "type": "bar",
                "labels": deciles.mapped("label"),
                "datasets": [
                    {
                        "label": _("Predicted share buying"),
                        "data": [round(v * 100, 1) for v in deciles.mapped("predicted")],
                    },
                    {
                        "label": _("Actual share buying"),
                        "data": [round(v * 100, 1) for v in deciles.mapped("actual")],
                    },
                ],
                "x_title": _("P(alive) at the calibration end (deciles of customers)"),
                "y_title": _("Customers who bought in the holdout (%)"),
            }
            marks = [
                6 if round(line.threshold, 2) in (test.suggested_threshold, test.current_threshold)
                else 2
                for line in cuts
            ]  # fmt: skip
            test.threshold_chart = {
                "type": "line",
                "labels": [f"{v:.2f}" for v in cuts.mapped("threshold")],
                "datasets": [
                    {
                        "label": _("Net value"),
                        "data": [round(v, 2) for v in cuts.mapped("net")],
                        "pointRadius": marks,
                    }
                ],
                "x_title": _("Contact customers below this P(alive)"),
                "y_title": _("Net value (%(currency)s)", currency=test.currency_id.name or ""),
            }

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    def action_apply_threshold(self):
        """ "Apply": the At risk churn probability becomes the suggested one
        (one minus the suggested P(alive) cut); stages follow in the
        recompute the change queues (``crm.retention.model._mark_redefined``)."""
        self.ensure_one()
        if not self.env.user.has_group("crm_retention.group_retention_manager"):
            raise AccessError(self.env._("Only retention managers can change the stage rules."))
        self.check_access("write")
        if not self.suggested_threshold:
            raise UserError(
                self.env._("This backtest suggests no threshold: no cut gained anything.")
            )
        settings = self.model_id._get_settings()
        probability = round(1.0 - self.suggested_threshold, 2)
        if probability >= settings["lost_probability"]:
            raise UserError(
                self.env._(
                    "The suggested At risk churn probability (%(suggested)s) is not below the "
                    "Lost one (%(lost)s): customers would be Lost before they are At risk. "
                    "Lower the Lost probability in the settings first.",
                    suggested=probability,
                    lost=settings["lost_probability"],
                )
            )
        previous = settings["at_risk_probability"]
        # sudo: a retention manager changes his company's stage rules, not its record
        self.model_id.company_id.sudo().retention_at_risk_probability = probability
        self.applied = True
        self.message_post(
            body=self.env._(
                "At risk churn probability changed from %(old)s to %(new)s (P(alive) below "
                "%(cut)s) from this backtest.",
                old=previous,
                new=probability,
                cut=self.suggested_threshold,
            )
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Customers with a churn probability of %(p)s or more are now At risk: "
                    "every customer is re-evaluated in the background (you are notified when "
                    'it is done), the moves logged as "Stage rules changed".',
                    p=probability,
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    # ------------------------------------------------------------------
    # ENGINE
    # ------------------------------------------------------------------

    @api.model
    def _run(self, model, calibration_end=None, holdout_end=None):
        """Run and store the backtest of ``model`` (see
        ``crm.retention.model._backtest``)."""
        today = fields.Date.context_today(self)
        holdout_end = fields.Date.to_date(holdout_end) or today
        calibration_end = fields.Date.to_date(calibration_end) or holdout_end - timedelta(
            weeks=DEFAULT_HOLDOUT_WEEKS
        )
        self._check_split(calibration_end, holdout_end, today)
        company = model.company_id
        frame = self.env["crm.customer.profile"]._read_frame(
            self._split_sql(company, calibration_end, holdout_end)
        )
        # the fit as it would have been on the calibration end (nothing
        # after it is read: the split query cut the deals there)
        vals = model._fit_values(frame, calibration_end, spend=False)
        if vals.get("status") != "ok":
            raise UserError(
                self.env._(
                    "No backtest with the deals up to %(date)s: %(why)s",
                    date=fields.Date.to_string(calibration_end),
                    why=vals.get("message") or "",
                )
            )
        params = clv.BGNBDParams(
            r=vals["r"], alpha=vals["alpha"], a=vals["a"], b=vals["b"], n=vals["n_customers"]
        )
        weeks = (holdout_end - calibration_end).days / lifecycle.TIME_UNIT_DAYS
        x, t_x, age = lifecycle.summarise_for_fit(frame, calibration_end)
        actual = frame["holdout_days"].to_numpy(dtype=float)
        bought = actual > 0
        # the model's figures once per distinct (x, t_x, T): many customers
        # share one (same days), and eq. 10 is the costly part
        shapes, of = np.unique(np.column_stack([x, t_x, age]), axis=0, return_inverse=True)
        of = of.ravel()
        sx, stx, sage = shapes.T
        predicted = clv.expected_purchases(params, weeks, sx, stx, sage)[of]
        alive = clv.p_alive(params, sx, stx, sage)[of]
        if_alive = clv.expected_purchases(params, weeks, sx, stx, sage, given_alive=True)[of]
        p_buy = backtest.buy_probability(params, weeks, x, age, alive)
        # what a kept customer would have bought in the holdout: its
        # purchases expected while alive at its own average deal value
        average = np.maximum(
            frame["won_revenue"].to_numpy(dtype=float) / frame["deal_days"].to_numpy(dtype=float),
            0.0,
        )
        value = average * if_alive
        kinds = self._stage_kinds_at(company, calibration_end, frame["partner_id"])

        by_freq = backtest.by_frequency(x, predicted, actual)
        deciles, brier = backtest.reliability(alive, p_buy, bought)
        stages = backtest.stage_table(kinds, bought)
        uplift_pp, cost, source = self._economics(model)
        # the churn probability flags a customer once it is due (past its
        # expected next purchase, lib.lifecycle): one not due at the
        # calibration end is contacted at no threshold
        flagged = np.where(backtest.due(x, t_x, age), alive, 1.0)
        curve = backtest.threshold_curve(
            flagged, value, bought, uplift=uplift_pp / 100.0, cost=cost
        )
        best = backtest.best_threshold(curve)
        current = round(1.0 - model._get_settings()["at_risk_probability"], 2)
        current_net = float(
            backtest.threshold_curve(
                flagged, value, bought, uplift=uplift_pp / 100.0, cost=cost, grid=[current]
            )["net"].iloc[0]
        )
        share = float(bought.mean()) if len(bought) else 0.0
        return self.create(
            {
                "model_id": model.id,
                "user_id": self.env.uid,
                "calibration_end": calibration_end,
                "holdout_end": holdout_end,
                "holdout_weeks": weeks,
                "n_customers": len(frame),
                "n_repeat_customers": vals["n_repeat_customers"],
                "fit_sample": vals["fit_sample"],
                "r": vals["r"],
                "alpha": vals["alpha"],
                "a": vals["a"],
                "b": vals["b"],
                "log_likelihood": vals["log_likelihood"],
                "predicted_total": float(predicted.sum()),
                "actual_total": float(actual.sum()),
                "bought_share": share * 100,
                "brier_score": brier,
                "brier_baseline": share * (1 - share),
                "uplift_pp_used": uplift_pp,
                "contact_cost_used": cost,
                "economics_source": source,
                "current_threshold": current,
                "current_net": current_net,
                "suggested_threshold": float(best["threshold"]) if best is not None else 0.0,
                "suggested_at_risk_probability": round(1.0 - float(best["threshold"]), 2)
                if best is not None
                else 0.0,
                "suggested_net": float(best["net"]) if best is not None else 0.0,
                "suggested_contacted": int(best["contacted"]) if best is not None else 0,
                "line_ids": [
                    fields.Command.create(vals)
                    for vals in self._line_values(by_freq, deciles, stages, curve)
                ],
            }
        )

    @api.model
    def _check_split(self, calibration_end, holdout_end, today):
        if holdout_end > today:
            raise UserError(
                self.env._(
                    "The holdout cannot end in the future (%(date)s): what customers will do "
                    "is not known yet.",
                    date=fields.Date.to_string(holdout_end),
                )
            )
        if (holdout_end - calibration_end).days < MIN_HOLDOUT_DAYS:
            raise UserError(
                self.env._(
                    "The calibration must end at least %(days)s days before the holdout ends "
                    "(%(end)s): a shorter holdout says little about purchases.",
                    days=MIN_HOLDOUT_DAYS,
                    end=fields.Date.to_string(holdout_end),
                )
            )

    @api.model
    def _split_sql(self, company, calibration_end, holdout_end):
        """One row per customer of ``company`` with a deal by
        ``calibration_end``: the aggregates the model fit reads, computed
        on the deals up to the calibration end only (``won_count``,
        ``deal_days``, ``first_deal_date``, ``last_deal_date`` as days since
        1970-01-01, ``won_revenue``), and the distinct deal days after it up
        to ``holdout_end`` (``holdout_days``). One pass over the deal days
        of the suite's one deal source (``_deal_days_sql``)."""
        Profile = self.env["crm.customer.profile"]
        return SQL(
            """
            WITH %(days)s
            SELECT partner_id,
                   COALESCE(sum(n) FILTER (WHERE deal_date <= %(cut)s), 0)::integer AS won_count,
                   count(*) FILTER (WHERE n > 0 AND deal_date <= %(cut)s)::integer AS deal_days,
                   min(deal_date) FILTER (WHERE n > 0 AND deal_date <= %(cut)s)
                       - DATE '1970-01-01' AS first_deal_date,
                   max(deal_date) FILTER (WHERE n > 0 AND deal_date <= %(cut)s)
                       - DATE '1970-01-01' AS last_deal_date,
                   COALESCE(sum(amount) FILTER (WHERE deal_date <= %(cut)s), 0) AS won_revenue,
                   count(*) FILTER (WHERE n > 0 AND deal_date > %(cut)s)::integer
                       AS holdout_days
              FROM days
             WHERE deal_date <= %(end)s
             GROUP BY partner_id
            HAVING count(*) FILTER (WHERE n > 0 AND deal_date <= %(cut)s) > 0
             ORDER BY partner_id
            """,
            days=Profile._deal_days_sql([company.id], holdout_end),
            cut=calibration_end,
            end=holdout_end,
        )

    @api.model
    def _stage_kinds_at(self, company, day, partner_ids):
        """The stage kind of each of ``partner_ids`` (a Series) at the end
        of ``day``, from the lifecycle history (None: no stage then)."""
        self.env["crm.lifecycle.history"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (h.partner_id) h.partner_id, s.kind
                  FROM crm_lifecycle_history h
                  JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                 WHERE h.company_id = %(company)s AND h.date < %(next_day)s
                 ORDER BY h.partner_id, h.date DESC, h.id DESC
                """,
                company=company.id,
                next_day=day + timedelta(days=1),
            )
        )
        kind_of = dict(self.env.cr.fetchall())
        return partner_ids.map(kind_of).to_numpy(dtype=object)

    @api.model
    def _economics(self, model):
        """(uplift in points, contact cost, source) for the threshold
        suggestion: pooled over the company's campaigns that have a control
        group (treated retained / treated minus control retained / control)
        when that uplift is positive, else the model's assumptions; the
        cost per member of those campaigns (weighted by treated members)
        when they set one."""
        campaigns = (
            self.env["crm.retention.campaign"]
            .sudo()
            .search([("company_id", "=", model.company_id.id), ("state", "!=", "draft")])
        )
        measured = campaigns.filtered(lambda c: c.control_count and c.treated_count)
        treated = sum(measured.mapped("treated_count"))
        control = sum(measured.mapped("control_count"))
        uplift_pp = model.company_id.retention_backtest_uplift_pp
        cost = model.company_id.retention_backtest_contact_cost
        source = "assumed"
        if treated and control:
            pooled = (
                sum(measured.mapped("treated_retained")) / treated
                - sum(measured.mapped("control_retained")) / control
            ) * 100
            if pooled > 0:
                uplift_pp, source = pooled, "measured"
            costed = measured.filtered("cost_per_member")
            if costed:
                cost = sum(c.cost_per_member * c.treated_count for c in costed) / sum(
                    costed.mapped("treated_count")
                )
        return uplift_pp, cost, source

    @api.model
    def _line_values(self, by_freq, deciles, stages, curve):
        kind_labels = dict(
            self.env["crm.lifecycle.stage"]._fields["kind"]._description_selection(self.env)
        )
        kind_labels.update(lapse=self.env._("At risk or Lost"), none=self.env._("No stage yet"))
        lines = []
        for row in by_freq.itertuples():
            lines.append(
                {
                    "kind": "frequency",
                    "sequence": row.bin,
                    "label": row.label,
                    "customers": row.customers,
                    "predicted": row.predicted,
                    "actual": row.actual,
                    "predicted_total": row.predicted_total,
                    "actual_total": row.actual_total,
                }
            )
        for row in deciles.itertuples():
            lines.append(
                {
                    "kind": "decile",
                    "sequence": row.bin,
                    "label": row.label,
                    "customers": row.customers,
                    "p_alive": row.p_alive,
                    "predicted": row.predicted,
                    "actual": row.actual,
                }
            )
        order = {
            "none": 0,
            "new": 1,
            "active": 2,
            "won_back": 3,
            "at_risk": 4,
            "lost": 5,
            "lapse": 6,
        }
        for row in stages.itertuples():
            lines.append(
                {
                    "kind": "stage",
                    "sequence": order.get(row.kind, 9),
                    "label": kind_labels.get(row.kind, row.kind),
                    "customers": row.customers,
                    "bought": row.bought,
                    "lapsed": row.lapsed,
                    "precision": 0.0 if np.isnan(row.precision) else row.precision * 100,
                    "recall": 0.0 if np.isnan(row.recall) else row.recall * 100,
                    "is_lapse_rule": row.kind in (*backtest.LAPSE_KINDS, "lapse"),
                }
            )
        for i, row in enumerate(curve.itertuples()):
            lines.append(
                {
                    "kind": "threshold",
                    "sequence": i,
                    "label": f"{row.threshold:.2f}",
                    "threshold": row.threshold,
                    "customers": row.contacted,
                    "saved_value": row.saved_value,
                    "cost": row.cost,
                    "net": row.net,
                }
            )
        return lines


class CrmRetentionBacktestLine(models.Model):
    """One row of a backtest's tables (``kind`` says which table)."""

    _name = "crm.retention.backtest.line"
    _description = "Churn Model Backtest Result"
    _order = "backtest_id, kind, sequence, id"

    backtest_id = fields.Many2one(
        "crm.retention.backtest", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backtest_id.company_id", store=True)
    currency_id = fields.Many2one(related="backtest_id.currency_id")
    kind = fields.Selection(LINE_KINDS, required=True)
    sequence = fields.Integer()
    label = fields.Char(
        help="Calibration / holdout: repeat purchases in the calibration period. Reliability: "
        "the P(alive) range of the decile. Stage rules: the stage at the calibration end. "
        "Threshold: the P(alive) cut."
    )
    customers = fields.Integer(
        help="Customers in the row (threshold: those due and below the cut, who would be "
        "contacted)."
    )
    predicted = fields.Float(
        help="Calibration / holdout: purchases per customer the model expected in the holdout. "
        "Reliability: the share it expected to buy.",
    )
    actual = fields.Float(
        help="Calibration / holdout: purchases per customer in the holdout. Reliability: the "
        "share that bought.",
    )
    predicted_total = fields.Float()
    actual_total = fields.Float()
    p_alive = fields.Float(string="Average P(alive)")
    bought = fields.Integer(string="Bought Again")
    lapsed = fields.Integer(string="Did Not Buy")
    precision = fields.Float(
        string="Precision (%)",
        help="Of the customers the rule flagged, the share that indeed did not buy in the "
        "holdout.",
    )  # fmt: skip
    recall = fields.Float(
        string="Recall (%)",
        help="Of all customers who did not buy in the holdout, the share the rule flagged.",
    )  # fmt: skip
    is_lapse_rule = fields.Boolean()
    threshold = fields.Float(string="P(alive) Cut", digits=(16, 2))
    saved_value = fields.Monetary(
        string="Expected Gain",
        help="Campaign uplift times what the contacted customers who did not come back "
        "would have bought in the holdout.",
    )
    cost = fields.Monetary(string="Contact Cost")
    net = fields.Monetary(string="Net Value")
