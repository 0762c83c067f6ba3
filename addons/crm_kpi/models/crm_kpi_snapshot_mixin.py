from odoo import fields, models

from ..tools import selection_of


class CrmKpiSnapshotMixin(models.AbstractModel):
    """The slice and the measures of a customer KPI snapshot row.

    Shared by the detailed snapshot (``crm.kpi.snapshot``, which adds the
    tag set and the acquisition channel) and its rollups
    (``crm.kpi.snapshot.total``, ``crm.kpi.snapshot.tag``), so that the
    report reads the same columns from any of them.
    """

    _name = "crm.kpi.snapshot.mixin"
    _description = "Customer KPI Snapshot Row"

    # slice
    date = fields.Date(required=True, index=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    stage_id = fields.Many2one("crm.lifecycle.stage", string="Customer Stage", readonly=True)
    stage_kind = fields.Selection(selection_of("crm.lifecycle.stage", "kind"), readonly=True)
    # stocks at the start and at the end of the day
    profile_open = fields.Integer(readonly=True)
    profile_close = fields.Integer(readonly=True)
    customer_open = fields.Integer(readonly=True)
    customer_close = fields.Integer(readonly=True)
    active_open = fields.Integer(readonly=True)
    active_close = fields.Integer(readonly=True)
    clv_close = fields.Float(string="Predicted CLV at Close", readonly=True)
    value_at_risk_close = fields.Float(string="Value at Risk at Close", readonly=True)
    # flows of the day
    acquired_count = fields.Integer(readonly=True)
    lost_count = fields.Integer(readonly=True)
    won_back_count = fields.Integer(readonly=True)
    # customers into (+) or out of (-) the customer stocks by a change of the
    # stage rules: neither acquired, won back nor lost
    reclassified_count = fields.Integer(readonly=True, default=0)
    deal_count = fields.Integer(readonly=True)
    revenue = fields.Float(readonly=True)
