from odoo import api, fields, models

# how many of the latest fits the drift chart on the model form shows
DRIFT_POINTS = 180


class CrmRetentionModelFit(models.Model):
    """One fit of a company's churn model: its parameters, likelihood and
    data, kept for every nightly (or manual) fit so the manager sees how
    the model drifts. Written by ``crm.retention.model._fit``; read-only
    for everyone.

    The drift chart plots what the parameters mean rather than the
    parameters themselves (whose scales differ by orders of magnitude):
    the purchases a week of an average active customer (r / alpha) and
    the chance a customer stops after a purchase (a / (a + b)).
    """

    _name = "crm.retention.model.fit"
    _description = "Churn Model Fit"
    _order = "fit_date desc, id desc"
    _rec_name = "fit_date"

    model_id = fields.Many2one(
        "crm.retention.model", string="Churn Model", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="model_id.company_id", store=True, index=True)
    fit_date = fields.Datetime(required=True, readonly=True)
    status = fields.Selection(
        [("ok", "Fitted"), ("insufficient", "Not enough data"), ("failed", "Fit failed")],
        required=True,
        readonly=True,
    )
    n_customers = fields.Integer(string="Customers", readonly=True)
    n_repeat_customers = fields.Integer(string="Repeat Buyers", readonly=True)
    fit_sample = fields.Integer(
        string="Sample Size", readonly=True, help="Customers the parameters were estimated on."
    )
    log_likelihood = fields.Float(digits=(16, 2), readonly=True)
    r = fields.Float(digits=(16, 4), readonly=True)
    alpha = fields.Float(digits=(16, 4), readonly=True)
    a = fields.Float(digits=(16, 4), readonly=True)
    b = fields.Float(digits=(16, 4), readonly=True)
    purchase_rate = fields.Float(
        string="Purchases a Week (Active)", compute="_compute_meaning", store=True,
        aggregator="avg",
        help="r / alpha: how many purchases a week an average customer makes while it is "
        "still a customer.",
    )  # fmt: skip
    dropout = fields.Float(
        string="Stop Chance per Purchase", compute="_compute_meaning", store=True,
        aggregator="avg",
        help="a / (a + b): the average chance a customer stops buying after a purchase.",
    )  # fmt: skip
    message = fields.Text(readonly=True)

    @api.depends("r", "alpha", "a", "b")
    def _compute_meaning(self):
        for fit in self:
            fit.purchase_rate = fit.r / fit.alpha if fit.alpha else 0.0
            fit.dropout = fit.a / (fit.a + fit.b) if fit.a else 0.0

    @api.model
    def _log(self, model, vals):
        """Record the fit ``vals`` (as ``crm.retention.model._fit_values``
        returned them) of ``model``."""
        fitted = vals.get("status") == "ok"
        params = {k: vals.get(k, 0.0) if fitted else 0.0 for k in ("r", "alpha", "a", "b")}
        return self.create(
            {
                "model_id": model.id,
                "fit_date": vals["fit_date"],
                "status": vals["status"],
                "n_customers": vals.get("n_customers", 0),
                "n_repeat_customers": vals.get("n_repeat_customers", 0),
                "fit_sample": vals.get("fit_sample", 0),
                "log_likelihood": vals.get("log_likelihood", 0.0) if fitted else 0.0,
                **params,
                "message": vals.get("message") or False,
            }
        )

    @api.model
    def _drift_chart(self, model):
        """The chart data (see the ``crm_retention_chart`` widget) of the
        latest ``DRIFT_POINTS`` successful fits of ``model``."""
        fits = self.search(
            [("model_id", "=", model.id), ("status", "=", "ok")], limit=DRIFT_POINTS
        ).sorted("fit_date")
        if not fits:
            return False
        return {
            "type": "line",
            "labels": [fields.Date.to_string(fit.fit_date.date()) for fit in fits],
            "datasets": [
                {
                    "label": self._fields["purchase_rate"]._description_string(self.env),
                    "data": [round(fit.purchase_rate, 4) for fit in fits],
                    "yAxisID": "y",
                },
                {
                    "label": self._fields["dropout"]._description_string(self.env),
                    "data": [round(fit.dropout, 4) for fit in fits],
                    "yAxisID": "y1",
                },
            ],
            "y_title": self._fields["purchase_rate"]._description_string(self.env),
            "y1_title": self._fields["dropout"]._description_string(self.env),
        }
