from odoo import fields, models

from ..lib.revenue import GRAINS

# the revenue measures of a snapshot row, in column order (the rollups sum them)
REVENUE_COLUMNS = [
    "revenue_12m_open",
    "revenue_12m_close",
    "revenue_churn",
    *(f"revenue_change_{grain}" for grain in GRAINS),
    *(f"revenue_kept_change_{grain}" for grain in GRAINS),
]


class CrmKpiSnapshotRevenueMixin(models.AbstractModel):
    """The revenue retention measures of a customer KPI snapshot row
    (definitions: ``lib/revenue.py``).

    * ``revenue_12m_open`` / ``_close``: stocks, the sum over the slice's
      customers of their revenue of the 12 months before the start / after
      the end of the day, when positive (the revenue base of a period
      starting that day / the next);
    * ``revenue_churn``: flow, the 12-month revenue of the customers who
      entered a stage of kind Lost that day, as of that day;
    * ``revenue_change_<grain>`` / ``revenue_kept_change_<grain>``: flows,
      that day's change of the 12-month revenue of the customers in the
      base of the grain's period containing the day (net; capped at each
      one's revenue at the period start and floored at 0), in the slice the
      customer had at that start. Summed over the days of one period of
      the grain they give the change since its start (NRR, GRR). Empty
      rather than 0 (most rows have none).

    Written by ``snapshot/revenue.py`` with the rest of the row.
    """

    _inherit = "crm.kpi.snapshot.mixin"

    revenue_12m_open = fields.Float(string="12-Month Revenue at Open", readonly=True)
    revenue_12m_close = fields.Float(string="12-Month Revenue at Close", readonly=True)
    revenue_churn = fields.Float(string="Revenue Churn", readonly=True)
    revenue_change_day = fields.Float(readonly=True)
    revenue_change_week = fields.Float(readonly=True)
    revenue_change_week_sun = fields.Float(readonly=True)
    revenue_change_month = fields.Float(readonly=True)
    revenue_change_quarter = fields.Float(readonly=True)
    revenue_change_year = fields.Float(readonly=True)
    revenue_kept_change_day = fields.Float(readonly=True)
    revenue_kept_change_week = fields.Float(readonly=True)
    revenue_kept_change_week_sun = fields.Float(readonly=True)
    revenue_kept_change_month = fields.Float(readonly=True)
    revenue_kept_change_quarter = fields.Float(readonly=True)
    revenue_kept_change_year = fields.Float(readonly=True)
