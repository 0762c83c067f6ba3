import logging
from datetime import timedelta

import numpy as np

from odoo import api, fields, models, modules
from odoo.exceptions import AccessError, UserError, ValidationError

from ..lib import clv, lifecycle
from ..recompute.layout import RecomputeRunning

_logger = logging.getLogger(__name__)

# how many customers feed the BG/NBD fit at most: a deterministic sample (by
# a hash of the partner id; the same customers from one day to the next) of
# this size estimates the parameters of a large base with a small sampling
# error (maximum likelihood: it shrinks with the square root of the sample
# size), for a fixed cost however large the base
FIT_SAMPLE = 100_000
# how many repeat buyers feed the Gamma-Gamma fit at most: its likelihood is
# evaluated per customer, and a deterministic sample of this size gives the
# same parameters to the third decimal
GG_SAMPLE = 200_000


class CrmRetentionModel(models.Model):
    """The churn model of one company and the state of its recompute run.

    ``_fit`` fits BG/NBD (P(alive), expected deals) and
    Gamma-Gamma (average deal value, hence CLV) on the company's customers.
    When there are too few repeat buyers, or the optimiser does not
    converge, the previous parameters are kept, ``status`` and ``message``
    say why, and the stage rules fall back on purchase rhythm alone.

    The run fields (``run_state``, ``run_cursor``, ``run_date``) make the
    recompute resumable; see ``crm.customer.profile._recompute_company``.
    """

    _name = "crm.retention.model"
    _description = "Churn Model"
    _inherit = ["mail.thread"]
    _order = "company_id"
    _rec_name = "company_id"

    company_id = fields.Many2one("res.company", required=True, ondelete="cascade", index=True)
    status = fields.Selection(
        [
            ("never", "Not fitted yet"),
            ("ok", "Fitted"),
            ("insufficient", "Not enough data"),
            ("failed", "Fit failed"),
        ],
        default="never",
        required=True,
        tracking=True,
    )
    message = fields.Text(readonly=True)
    fit_date = fields.Datetime(readonly=True)
    n_customers = fields.Integer(
        string="Customers", readonly=True,
        help="Buying customers the model was fitted on (every customer with a won deal).",
    )  # fmt: skip
    n_repeat_customers = fields.Integer(
        string="Repeat Buyers", readonly=True,
        help="Of which customers who bought on at least two different days: they teach the "
        "model how often customers buy and when they stop.",
    )  # fmt: skip
    log_likelihood = fields.Float(
        digits=(16, 2), readonly=True,
        help="How well the model explains the purchases it was fitted on (higher is better); "
        "useful to compare two fits of the same company, not two companies.",
    )  # fmt: skip
    # BG/NBD (time unit: weeks)
    r = fields.Float(
        digits=(16, 4), readonly=True,
        help="Shape of how purchase rates differ between customers. With alpha: a typical "
        "customer buys r / alpha times a week while still a customer.",
    )  # fmt: skip
    alpha = fields.Float(
        digits=(16, 4), readonly=True,
        help="Scale of the purchase rates (weeks): the larger, the less often customers buy.",
    )  # fmt: skip
    a = fields.Float(
        digits=(16, 4), readonly=True,
        help="With b: how likely a customer is to stop after each purchase; on average "
        "a / (a + b). P(alive) on a customer is the chance it has not stopped yet.",
    )  # fmt: skip
    b = fields.Float(
        digits=(16, 4), readonly=True,
        help="With a: the larger b against a, the more loyal customers are after a purchase.",
    )  # fmt: skip
    # Gamma-Gamma
    gg_p = fields.Float(
        string="Gamma-Gamma p", digits=(16, 4), readonly=True,
        help="Spend model: how much one customer's deal amounts vary around its own average.",
    )  # fmt: skip
    gg_q = fields.Float(
        string="Gamma-Gamma q", digits=(16, 4), readonly=True,
        help="Spend model: how much customers' average deal amounts differ from each other.",
    )  # fmt: skip
    gg_v = fields.Float(
        string="Gamma-Gamma v", digits=(16, 4), readonly=True,
        help="Spend model scale: with p and q, the typical deal amount is about "
        "p x v / (q - 1).",
    )  # fmt: skip
    typical_interval_days = fields.Float(
        digits=(16, 1),
        readonly=True,
        help="Median interval between deals of repeat buyers: the rhythm one-time buyers "
        "are measured against.",
    )
    # recompute run
    run_state = fields.Selection(
        [("idle", "Idle"), ("running", "Running"), ("done", "Done")],
        default="idle",
        readonly=True,
    )
    run_cursor = fields.Integer(readonly=True)
    run_total = fields.Integer(readonly=True, help="Customers in the work table of the run.")
    run_date = fields.Date(readonly=True)
    # the rules that decide the stages changed: the next full run logs the
    # moves they cause as such (_mark_redefined)
    redefinition_pending = fields.Boolean(
        string="Stage Rules Changed",
        readonly=True,
        copy=False,
        help="The company's stage thresholds, a stage's rule or the purchases that count "
        "changed since the last full run. The recompute queued at the change (or tonight's) "
        'logs the moves it causes as "Stage rules changed": the KPIs do not count them as '
        "customers lost or won back.",
    )
    run_redefinition = fields.Boolean(
        string="Run After a Rules Change",
        readonly=True,
        copy=False,
        help="The run going on is the first after a change of the stage rules: its stage "
        'changes are logged as "Stage rules changed".',
    )
    # written in SQL (microseconds kept): see crm.customer.profile._stamp_run
    run_stamp = fields.Datetime(
        readonly=True, help="When the current run read the deals (database clock)."
    )
    last_run_date = fields.Datetime(readonly=True)
    # what the nightly run read (crm.customer.profile._run_frame)
    run_aggregate = fields.Selection(
        [("full", "Every deal"), ("incremental", "Changed customers")],
        string="Deals Read",
        readonly=True,
        help="Every deal: the last run read all the company's deals (the first run, Recompute "
        "now, a change of what counts as a deal, and once every few days, see "
        "crm_retention.full_aggregate_days). Changed customers: it read the customers' "
        "aggregates stored on their profiles and re-read the deals of those whose purchases "
        "may have changed since the run before.",
    )
    run_reread = fields.Integer(
        string="Customers Re-read",
        readonly=True,
        help="Customers whose deals the last run read.",
    )
    run_marks = fields.Json(readonly=True, copy=False)
    run_fingerprint = fields.Char(readonly=True, copy=False)
    aggregate_date = fields.Date(
        string="Last Full Read",
        readonly=True,
        copy=False,
        help="The date of the last run that read every deal of the company.",
    )
    # the last finished run's high-water marks of the deal tables and the
    # digest of what decides the aggregates (see _full_aggregate_reason)
    deal_marks = fields.Json(readonly=True, copy=False)
    aggregate_fingerprint = fields.Char(readonly=True, copy=False)
    # the date and the stamp (when it read the deals) of the run those are of
    marks_date = fields.Date(readonly=True, copy=False)
    aggregate_stamp = fields.Datetime(readonly=True, copy=False)
    recompute_requested_by_id = fields.Many2one(
        "res.users",
        string="Recompute Requested By",
        readonly=True,
        copy=False,
        help="A manager clicked Recompute now: the run is queued for the background and "
        "this user is notified when it is done.",
    )
    digest_history_id = fields.Integer(
        string="Digest Sent Up To",
        readonly=True,
        help="The last stage change (history row) of the managers' previous digest: each "
        "full recompute mails the moves after it, of the last day.",
    )

    fit_sample = fields.Integer(
        string="Sample Size", readonly=True,
        help="Customers the BG/NBD parameters were estimated on: a fixed deterministic "
        "sample when the company has more (the estimate barely changes).",
    )  # fmt: skip
    fit_ids = fields.One2many("crm.retention.model.fit", "model_id", string="Fits")
    # the evidence behind the next best actions (campaign/recommend.py),
    # frozen for a night at the start of the run: its batches write each
    # profile's recommendation in their row write, and a won deal between
    # two nights reads it too
    nba_plan = fields.Json(string="Next Best Action Evidence", readonly=True, copy=False)
    drift_chart = fields.Json(
        compute="_compute_drift_chart",
        help="How the fitted model moved fit after fit: the purchase rate of a typical "
        "customer while active and the chance it stops after a purchase.",
    )
    # backtests
    backtest_ids = fields.One2many("crm.retention.backtest", "model_id", string="Backtests")
    backtest_count = fields.Integer(compute="_compute_backtest_count")
    _sql_constraints = [
        ("company_uniq", "UNIQUE(company_id)", "One churn model per company."),
    ]

    def init(self):
        # the snapshot of the current run (see crm.customer.profile._stamp_run):
        # a type the ORM has no field for, so created here
        self.env.cr.execute(
            "ALTER TABLE crm_retention_model ADD COLUMN IF NOT EXISTS run_snapshot pg_snapshot"
        )

    @api.depends("backtest_ids")
    def _compute_backtest_count(self):
        counts = dict(
            self.env["crm.retention.backtest"]._read_group(
                [("model_id", "in", self.ids)], ["model_id"], ["__count"]
            )
        )
        for model in self:
            model.backtest_count = counts.get(model, 0)

    @api.depends("fit_ids")
    def _compute_drift_chart(self):
        for model in self:
            model.drift_chart = self.env["crm.retention.model.fit"]._drift_chart(model)

    @api.constrains(
        "r", "alpha", "a", "b", "gg_p", "gg_q", "gg_v", "typical_interval_days", "run_cursor"
    )
    def _check_parameters(self):
        # the fit only writes positive parameters (however large: a
        # degenerate fit drifts to big a, b, and must still be stored); a
        # negative one was typed in (import, shell) and would turn every
        # prediction into nonsense
        for model in self:
            for name in (
                "r",
                "alpha",
                "a",
                "b",
                "gg_p",
                "gg_q",
                "gg_v",
                "typical_interval_days",
                "run_cursor",
            ):
                value = model[name]
                if value < 0:
                    raise ValidationError(
                        self.env._(
                            "%(field)s of the churn model of %(company)s cannot be negative "
                            "(got %(value)s).",
                            field=self._fields[name]._description_string(self.env),
                            company=model.company_id.name,
                            value=value,
                        )
                    )

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    def action_recompute(self):
        """ "Recompute now": queue a refit and recompute of the companies of
        these models for the background worker (``_cron_recompute_requested``,
        woken at once), instead of running it in the web request, where it
        would hold a worker for minutes and could time out. The requester is
        notified when it is done. A run of the same company going on (the
        nightly one) is waited for, not run twice: one run per company holds
        its lock (``_company_run_lock``)."""
        if not self.env.user.has_group("crm_retention.group_retention_manager"):
            raise AccessError(self.env._("Only retention managers can recompute the lifecycle."))
        self.check_access("read")
        # sudo: the request is bookkeeping of the run, read by the cron only
        self.sudo().write({"recompute_requested_by_id": self.env.uid})
        self.env.ref("crm_retention.ir_cron_lifecycle_recompute_requested").sudo()._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._(
                    "Recompute of %(companies)s queued: it runs in the background and you"
                    " will be notified when it is done.",
                    companies=", ".join(self.company_id.mapped("name")),
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.model
    def _cron_recompute_requested(self):
        """The queued "Recompute now" requests, one company at a time. The
        request is taken before the run, so a click during the run queues
        another one; a company whose run is going on is retried 5 minutes
        later; a failure is reported to the requester, not retried."""
        cron = self.env.ref("crm_retention.ir_cron_lifecycle_recompute_requested")
        Profile = self.env["crm.customer.profile"]
        for model in self.sudo().search([("recompute_requested_by_id", "!=", False)]):
            requester = model.recompute_requested_by_id
            model.recompute_requested_by_id = False
            try:
                model._run_requested_recompute()
            except RecomputeRunning:
                # refused before writing anything: the request stays queued
                _logger.info("Requested recompute of company %s waits", model.company_id.id)
                model.recompute_requested_by_id = requester
                cron.sudo()._trigger(fields.Datetime.now() + timedelta(minutes=5))
                Profile._commit_progress()
                continue
            except Exception as exc:
                if modules.module.current_test:
                    raise
                _logger.exception("Requested recompute failed for company %s", model.company_id.id)
                self.env.cr.rollback()  # the committed batches stay; resumed tonight
                model.recompute_requested_by_id = False
                model._notify_requester(requester, "danger", self.env._(
                    "The recompute of %(company)s failed: %(error)s",
                    company=model.company_id.name, error=exc,
                ))  # fmt: skip
                Profile._commit_progress()
                continue
            model._notify_requester(requester, "success", self.env._(
                "Customer lifecycle of %(company)s recomputed.", company=model.company_id.name
            ))  # fmt: skip
            Profile._commit_progress()

    def _run_requested_recompute(self):
        """One queued "Recompute now" (bridges add to it: the service bridge
        refits the health weights). Raises ``RecomputeRunning`` while another
        run holds the company."""
        self.ensure_one()
        # a manager asking reads every deal (after an import in SQL, say)
        self.env["crm.customer.profile"].sudo()._recompute_company(self.company_id, full=True)

    def _notify_requester(self, user, kind, message):
        user._bus_send("simple_notification", {"type": kind, "message": message, "sticky": False})

    def action_rebuild_history(self):
        """ "Rebuild History": each customer's stage history of these
        companies reconstructed from its past deals with today's rules."""
        if not self.env.user.has_group("crm_retention.group_retention_manager"):
            raise AccessError(
                self.env._("Only retention managers can rebuild the lifecycle history.")
            )
        self.check_access("read")
        count = 0
        for model in self:
            count += self.env["crm.customer.profile"].sudo()._rebuild_history(model.company_id)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "The stage history of %(count)s customers was rebuilt from their purchases.",
                    count=count,
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_backtest(self):
        """ "Run Backtest": the wizard that picks the calibration end."""
        self.ensure_one()
        if not self.env.user.has_group("crm_retention.group_retention_manager"):
            raise AccessError(self.env._("Only retention managers can run a backtest."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Run Backtest"),
            "res_model": "crm.retention.backtest.run",
            "view_mode": "form",
            "target": "new",
            "context": {"default_model_id": self.id},
        }

    def action_view_backtests(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_retention.crm_retention_backtest_action"
        )
        action["domain"] = [("model_id", "=", self.id)]
        action["context"] = {"default_model_id": self.id}
        return action

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------

    @api.model
    def _cron_recompute(self):
        """Daily: every company with customers, each resumable on its own."""
        companies = self.env["res.company"].search([])
        Profile = self.env["crm.customer.profile"].sudo()
        for company in companies:
            try:
                Profile._recompute_company(company)
            except RecomputeRunning:
                # someone clicked "Recompute now": that run does the job
                _logger.info("Lifecycle recompute of company %s already running", company.id)
            except Exception:
                if modules.module.current_test:
                    raise
                # one company's failure must not stop the others; its run
                # stays "running" and resumes at its cursor tomorrow
                _logger.exception("Lifecycle recompute failed for company %s", company.id)
                self.env.cr.rollback()

    def _backtest(self, calibration_end=None, holdout_end=None):
        """Backtest this company's churn model: fit on the deals up to
        ``calibration_end`` (default: 26 weeks before today), predict each
        customer's repeat purchases up to ``holdout_end`` (default: today)
        and compare with what happened. Returns the stored
        ``crm.retention.backtest`` (``predicted_total``, ``actual_total``,
        the calibration, reliability, stage and threshold tables); raises
        UserError when the dates are wrong or the past holds too little to
        fit on. See ``crm.retention.backtest._run``."""
        self.ensure_one()
        return self.env["crm.retention.backtest"]._run(self, calibration_end, holdout_end)

    @api.model
    def _cron_backtest(self):
        """Monthly: a backtest of every fitted model on the last 26 weeks,
        so the manager sees how well the model predicts this company's
        customers without asking. A company whose past is too short is
        skipped (its model form says why when a backtest is run by hand)."""
        for model in self.search([("status", "=", "ok")]):
            try:
                with self.env.cr.savepoint():
                    model._backtest()
            except UserError as exc:
                _logger.info("Backtest of company %s skipped: %s", model.company_id.id, exc)
            except Exception:
                if modules.module.current_test:
                    raise
                # one company's failure must not keep the others untested
                _logger.exception("Backtest of company %s failed", model.company_id.id)

    @api.model
    def _mark_redefined(self, companies):
        """The rules that decide the stages of ``companies`` changed (a
        threshold, a stage's rule, the purchases that count): customers will
        move without having done anything. For each company that has run
        before, note it (``redefinition_pending``: the next full run logs its
        stage changes with the reason "redefinition", which the flows skip,
        see ``lib.definitions.NOT_FLOW_REASONS``) and queue that run now, as
        "Recompute now" does, for the current user.

        Queued now, the run re-evaluates every customer on the day of the
        nightly run that already ran: the only moves are the change's (and a
        deal's, which moves its customer at once anyway). Made before that
        day's nightly run (between midnight and its hour, or after it failed),
        the change is applied with that day's moves, which are then logged
        as the change's too. While a recompute holds the company's model
        (its first minute at 1,000,000 customers), saving waits for it."""
        models = self.sudo().search(
            [("company_id", "in", companies.ids), ("last_run_date", "!=", False)]
        )
        if not models:
            return
        models.write({"redefinition_pending": True})
        models.filtered(lambda m: not m.recompute_requested_by_id).write(
            {"recompute_requested_by_id": self.env.uid}
        )
        self.env.ref("crm_retention.ir_cron_lifecycle_recompute_requested").sudo()._trigger()

    @api.model
    def _recompute_for_new_source(self):
        """A deal source was just installed (a bridge's post-init hook):
        every customer's purchases may change. Where profiles exist already,
        recompute now, so the figures do not miss the new purchases until
        tonight; a database without profiles gets them from the nightly
        cron as usual."""
        Profile = self.env["crm.customer.profile"].sudo()
        if not Profile.search_count([], limit=1):
            return
        # the moves the new purchases cause are the definition's, not the
        # customers' (a "lost" customer who kept buying through Sales)
        self.sudo().search([("last_run_date", "!=", False)]).write({"redefinition_pending": True})
        # not _cron_recompute: its guard rolls a failed company back, which
        # inside a module install would undo the install itself
        for company in self.env["res.company"].sudo().search([]):
            Profile._recompute_company(company, full=True)

    @api.model
    def _get_for_company(self, company):
        model = self.sudo().search([("company_id", "=", company.id)], limit=1)
        return model or self.sudo().create({"company_id": company.id})

    @api.model
    def _get_settings(self, company=None):
        """The lifecycle settings of ``company`` (default: this model's
        company, else the current one): its thresholds and model settings
        (``res.company.retention_*``, ``lib.lifecycle.COMPANY_SETTINGS``)
        and the database-wide ones tuning the machine (``crm_retention.*``
        system parameters, ``lib.lifecycle.DEFAULTS`` where unset). Raises a
        UserError naming the setting when one is out of its range
        (``lib.lifecycle.BOUNDS``; written directly, past the forms): the
        recompute must not mark customers Lost on it."""
        company = company or (self.company_id if len(self) == 1 else self.env.company)
        get = self.env["ir.config_parameter"].sudo().get_param
        settings = {}
        for key, default in lifecycle.DEFAULTS.items():
            if key in lifecycle.COMPANY_SETTINGS:
                settings[key] = company.sudo()[f"retention_{key}"]
                continue
            raw = get(f"crm_retention.{key}")
            try:
                settings[key] = type(default)(raw) if raw not in (None, False, "") else default
            except ValueError:
                settings[key] = raw
        errors = lifecycle.setting_errors(settings)
        if errors:
            if errors[0][0] in lifecycle.COMPANY_SETTINGS:
                raise UserError(
                    company._retention_setting_message(errors[0], suffix=f" ({company.name})")
                )
            raise UserError(self._setting_error_message(*errors[0], parameter=True))
        return settings

    @api.model
    def _setting_error_message(self, key, value, low, high, parameter=False):
        """The message of an out-of-range setting (see ``lib.lifecycle.setting_errors``)."""
        name = f"crm_retention.{key}" if parameter else key
        if parameter:
            name = self.env._("system parameter %(key)s", key=name)
        if low is None:
            return self.env._(
                "The customer lifecycle setting %(name)s (%(value)s) must not be above its "
                '"Lost" counterpart: fix it in Settings before recomputing.',
                name=name,
                value=value,
            )
        return self.env._(
            "The customer lifecycle setting %(name)s must be a number between %(low)s and "
            "%(high)s (got %(value)s): fix it in Settings before recomputing.",
            name=name,
            low=low,
            high=high,
            value=value,
        )

    def _get_params(self):
        """Model parameters for ``lib.lifecycle.compute_metrics`` or None."""
        self.ensure_one()
        if not (self.r and self.alpha and self.a and self.b):
            return None
        bgnbd = clv.BGNBDParams(
            r=self.r,
            alpha=self.alpha,
            a=self.a,
            b=self.b,
            log_likelihood=self.log_likelihood,
            converged=True,
            n=self.n_customers,
        )
        gg = None
        if self.gg_p and self.gg_q > 1 and self.gg_v:
            gg = clv.GammaGammaParams(
                p=self.gg_p,
                q=self.gg_q,
                v=self.gg_v,
                log_likelihood=0.0,
                converged=True,
                n=self.n_repeat_customers,
            )
        return {"bgnbd": bgnbd, "gg": gg}

    def _fit(self, frame, today):
        """Refit on ``frame``, the run's aggregates (one row per customer,
        see ``crm.customer.profile._aggregate_sql``); never raises. Each fit
        is also logged (``crm.retention.model.fit``) to chart the drift of
        the parameters on the model form."""
        self.ensure_one()
        vals = self._fit_values(frame, today, warm_start=True)
        self.write(vals)
        self.env["crm.retention.model.fit"].sudo()._log(self, vals)

    def _fit_values(self, frame, today, warm_start=False, spend=True):
        """The fit of ``frame`` as it would be stored on the model (a dict
        of field values: ``status``, ``message``, the parameters when
        fitted), without writing it: the nightly fit stores it, a backtest
        keeps it apart. Identical (deal days, first, last) customers are
        one weighted row, of a deterministic sample of ``FIT_SAMPLE``
        customers at most. ``warm_start``: start the optimiser from the
        stored parameters (a day moves them little); a backtest starts
        from scratch, so that nothing of today leaks into its fit.
        ``spend``: also fit Gamma-Gamma (a backtest predicts purchases
        only)."""
        self.ensure_one()
        settings = self._get_settings()
        customers = frame[frame["won_count"] > 0]
        n_customers = len(customers)
        n_repeat = int((customers["deal_days"] > 1).sum())
        sample = customers.iloc[lifecycle.sample_order(customers["partner_id"])[:FIT_SAMPLE]]
        shapes = (
            sample.groupby(["deal_days", "first_deal_date", "last_deal_date"])
            .size()
            .reset_index(name="weight")
        )
        vals = {"fit_date": fields.Datetime.now(), "fit_sample": len(sample)}
        if not len(shapes):
            return {
                **vals,
                "status": "insufficient",
                "n_customers": 0,
                "n_repeat_customers": 0,
                "message": self.env._("No won deal yet: nothing to fit."),
            }
        deal_days = shapes["deal_days"].to_numpy(dtype=float)
        weights = shapes["weight"].to_numpy(dtype=float)
        frequency, recency, age = lifecycle.summarise_for_fit(shapes, today)
        vals.update(
            n_customers=n_customers,
            n_repeat_customers=n_repeat,
            typical_interval_days=lifecycle.typical_interval(
                deal_days,
                lifecycle.to_dates(shapes["first_deal_date"]),
                lifecycle.to_dates(shapes["last_deal_date"]),
                weights,
                settings["default_interval_days"],
            ),
        )
        if n_repeat < settings["min_repeat_customers"]:
            vals.update(
                status="insufficient",
                message=self.env._(
                    "Only %(n)s repeat buyers (at least %(min)s needed): the previous "
                    "parameters are kept; without any, stages follow purchase rhythm only.",
                    n=n_repeat,
                    min=settings["min_repeat_customers"],
                ),
            )
            return vals
        previous = (self.r, self.alpha, self.a, self.b)
        try:
            params = clv.fit_bgnbd(
                frequency,
                recency,
                age,
                weights=weights,
                penalizer=settings["fit_penalizer"],
                initial=previous if warm_start and self.status == "ok" and all(previous) else None,
            )
        except (clv.ModelFitError, ValueError, FloatingPointError) as exc:
            vals.update(status="failed", message=self.env._("BG/NBD fit failed: %s", exc))
            return vals
        vals.update(
            status="ok",
            r=params.r,
            alpha=params.alpha,
            a=params.a,
            b=params.b,
            log_likelihood=params.log_likelihood,
            message=False,
        )
        if spend:
            vals.update(self._fit_gamma_gamma(customers))
        return vals

    def _fit_gamma_gamma(self, customers):
        """Gamma-Gamma on the repeat buyers with revenue among ``customers``
        (a deterministic sample of ``GG_SAMPLE`` at most)."""
        repeat = customers[(customers["deal_days"] > 1) & (customers["won_revenue"] > 0)]
        repeat = repeat.iloc[lifecycle.sample_order(repeat["partner_id"])[:GG_SAMPLE]]
        days = repeat["deal_days"].to_numpy(dtype=float)
        rows = np.column_stack([days - 1, repeat["won_revenue"].to_numpy(dtype=float) / days])
        if len(rows) < 2:
            return {"gg_p": 0.0, "gg_q": 0.0, "gg_v": 0.0}
        try:
            gg = clv.fit_gamma_gamma(
                rows[:, 0], rows[:, 1], penalizer=self._get_settings()["fit_penalizer"]
            )
        except (clv.ModelFitError, ValueError, FloatingPointError) as exc:
            _logger.warning("Gamma-Gamma fit failed for company %s: %s", self.company_id.id, exc)
            return {"gg_p": 0.0, "gg_q": 0.0, "gg_v": 0.0}
        return {"gg_p": gg.p, "gg_q": gg.q, "gg_v": gg.v}
