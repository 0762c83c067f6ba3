import json

import numpy as np
from markupsafe import Markup

from odoo import api, fields, models

from ..lib import health


class CrmRetentionModel(models.Model):
    _inherit = "crm.retention.model"

    health_fitted = fields.Boolean(
        string="Health Weights Fitted",
        readonly=True,
        help="Weights fitted on this company's past lapses; off: the documented default "
        "weights (too few lapses to fit).",
    )
    health_fit_date = fields.Date(
        string="Health Weights Fitted On",
        readonly=True,
        help="The weights are refitted once a week (and on Recompute now); the nights in "
        "between score with them.",
    )
    health_rows = fields.Integer(string="Health Fit: Customer-Days", readonly=True)
    health_lapses = fields.Integer(string="Health Fit: Lapses", readonly=True)
    health_weights = fields.Text(readonly=True, help="The fitted weights, as JSON.")
    health_weights_html = fields.Html(
        string="Health Score Weights", compute="_compute_health_weights_html", sanitize=False
    )

    @api.depends("health_weights", "health_fitted")
    def _compute_health_weights_html(self):
        labels = {
            "intercept": self.env._("Intercept"),
            "logit_p_alive": self.env._("P(alive) in 90 days without a deal (log-odds)"),
            "low_ratings": self.env._("Low ratings (log 1 + count)"),
            "missed_calls": self.env._("Missed calls without callback"),
            "sla_breaches": self.env._("SLA breaches"),
            "escalations": self.env._("Escalations"),
            "complaints": self.env._("Complaints"),
            "one_time_buyer": self.env._("One-time buyer"),
        }
        for model in self:
            rows = json.loads(model.health_weights or "[]")
            if not rows:
                model.health_weights_html = False
                continue
            body = Markup("").join(
                Markup(
                    "<tr><td>%s</td><td class='text-end'>%s</td><td class='text-end'>%s</td></tr>"
                )
                % (
                    labels.get(row["name"], row["name"]),
                    f"{row['coef']:+.3f}",
                    f"{row['low']:+.3f} … {row['high']:+.3f}"
                    if model.health_fitted and row["low"] == row["low"]
                    else self.env._("default"),
                )
                for row in rows
            )
            model.health_weights_html = Markup(
                "<table class='table table-sm'><thead><tr><th>%s</th><th class='text-end'>%s</th>"
                "<th class='text-end'>%s</th></tr></thead><tbody>%s</tbody></table>"
            ) % (
                self.env._("Signal"),
                self.env._("Weight (log-odds of lapsing)"),
                self.env._("95 % interval"),
                body,
            )

    def _run_requested_recompute(self):
        # "Recompute now": the health weights are refitted too, not reused
        return super(
            CrmRetentionModel, self.with_context(health_refit=True)
        )._run_requested_recompute()

    def _recent_health_coef(self, today, max_age_days):
        """The stored health weights (a numpy array) when fitted less than
        ``max_age_days`` before ``today``, else None (time to refit)."""
        self.ensure_one()
        if not self.health_fit_date or not self.health_weights:
            return None
        age = (today - self.health_fit_date).days
        if not 0 <= age < max_age_days:
            return None
        weights = {row["name"]: row["coef"] for row in json.loads(self.health_weights)}
        if set(weights) != set(health.NAMES):
            return None
        return np.array([weights[name] for name in health.NAMES])

    def _store_health_fit(self, fit, today=None):
        self.ensure_one()
        self.write(
            {
                "health_fit_date": today,
                "health_fitted": fit.fitted,
                "health_rows": fit.rows,
                "health_lapses": fit.lapses,
                "health_weights": json.dumps(
                    [
                        {"name": name, "coef": float(c), "low": float(lo), "high": float(hi)}
                        for name, c, lo, hi in zip(
                            health.NAMES, fit.coef, fit.low, fit.high, strict=True
                        )
                    ]
                ),
            }
        )
