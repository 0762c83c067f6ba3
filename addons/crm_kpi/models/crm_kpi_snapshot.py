from odoo import fields, models


class CrmKpiSnapshot(models.Model):
    """The customer base of one day, per slice, frozen.

    One row per (date, company, sales team, salesperson, country, lifecycle
    stage, set of customer tags, acquisition channel) that had a customer or
    a movement that day. A row holds

    * stocks at the start (``*_open`` = the previous day's close of the same
      slice) and at the end of the day (``*_close``): profiles, customers,
      active customers and their predicted CLV;
    * the day's flows: acquired (first won deal that day), lost (entered a
      stage of kind Lost), won back (from a stage of kind Lost back to a
      customer stage: Won back, Active...), won deals and revenue.

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

    Written only by ``_snapshot_period`` (``crm_kpi/snapshot/period.py``;
    the daily cron ``_cron_snapshot`` writes a day as a period of one day,
    ``_backfill`` longer periods, in ``snapshot/run.py``): one INSERT per
    (company, period) of the rows and their tag links, so a period
    is complete or absent; the daily cron writes its periods one after the
    other and resumes at the next missing day.
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
