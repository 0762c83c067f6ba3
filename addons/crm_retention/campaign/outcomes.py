"""What a campaign achieved: the members' outcomes measured from the
customers' deals in their window (treated and control alike), and the
per-group and per-step statistics the results and verdict are computed from
(``lib.uplift``)."""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class CrmRetentionCampaignOutcomes(models.Model):
    _inherit = "crm.retention.campaign"

    def _get_group_stats(self):
        """{(campaign id, group): {count, retained, revenue, cost}} in one query."""
        stats = {}
        # sudo: campaign-wide aggregates (see _compute_member_stats)
        for campaign, group, count, retained, revenue, cost in (
            self.env["crm.retention.campaign.member"]
            .sudo()
            ._read_group(
                [("campaign_id", "in", self.ids), ("member_group", "in", ("treated", "control"))],
                ["campaign_id", "member_group"],
                ["__count", "retained_count:sum", "revenue:sum", "cost:sum"],
            )
        ):
            stats[(campaign.id, group)] = {
                "count": count,
                "retained": retained,
                "revenue": revenue,
                "cost": cost,
            }
        return stats

    def _get_step_stats(self):
        """Per campaign: for each step and each channel, the treated members
        it reached, their retention rate and revenue, against the control
        group's rate (the control group receives no step)."""
        Execution = self.env["crm.retention.campaign.step.execution"].sudo()
        by_step = Execution._read_group(
            [("campaign_id", "in", self.ids), ("state", "=", "done")],
            ["campaign_id", "step_id"],
            ["__count", "member_retained:sum", "member_revenue:sum"],
        )
        by_channel = Execution._read_group(
            [("campaign_id", "in", self.ids), ("state", "=", "done")],
            ["campaign_id", "channel"],
            ["member_id:count_distinct", "member_retained:sum", "member_revenue:sum"],
        )
        group_stats = self._get_group_stats()
        labels = dict(
            self.env["crm.retention.campaign.step"]
            ._fields["action"]
            ._description_selection(self.env)
        )
        result = {}
        for campaign in self:
            control = group_stats.get((campaign.id, "control"), {})
            control_rate = control["retained"] / control["count"] if control.get("count") else None
            result[campaign.id] = {"steps": [], "channels": []}

            def row(label, reached, retained, revenue, control_rate=control_rate):
                rate = retained / reached if reached else None
                return {
                    "label": label,
                    "reached": reached,
                    "retained": retained,
                    "rate": rate,
                    "uplift": (rate - control_rate) * 100
                    if rate is not None and control_rate is not None
                    else None,
                    "revenue": revenue,
                }

            for c, step, reached, retained, revenue in by_step:
                if c.id == campaign.id:
                    result[campaign.id]["steps"].append(
                        row(step.display_name, reached, retained, revenue)
                    )
            for c, channel, reached, retained, revenue in by_channel:
                if c.id == campaign.id:
                    result[campaign.id]["channels"].append(
                        row(labels.get(channel, channel), reached, retained, revenue)
                    )
        return result


class CrmRetentionCampaignMemberOutcomes(models.Model):
    _inherit = "crm.retention.campaign.member"

    def _refresh_outcomes(self, company, partner_ids=None, today=None):
        """Measure treated and control members of ``company`` against their
        outcome window, in one UPDATE.

        Scope: the members in ``self`` or, called on the empty model, those
        of ``partner_ids`` (the customers whose deals just changed) whose
        window is not closed yet. Deals come from the lifecycle deal source
        converted to the company currency; the window includes its first
        and last day. The offer cost of a retained treated member is its
        discount (percentage of the revenue, or the fixed amount capped by
        the revenue).
        """
        today = today or fields.Date.context_today(self)
        if self:
            scope = SQL("m.id = ANY(%s)", self.ids)
            partners = list(set(self.partner_id.ids))
        elif partner_ids:
            scope = SQL(
                "m.partner_id = ANY(%s) AND NOT COALESCE(m.outcome_final, false)", list(partner_ids)
            )
            partners = list(partner_ids)
        else:
            return
        self.env.flush_all()
        self.env.cr.execute(self._outcomes_update_sql(company, scope, partners, today))
        self._mirror_outcomes_to_executions(self.env.cr.fetchall())
        self.invalidate_model()
        self.env["crm.retention.campaign.step.execution"].invalidate_model(
            ["member_retained", "member_revenue"]
        )

    @api.model
    def _outcomes_update_sql(self, company, scope, partners, today):
        """UPDATE of the members in ``scope`` (SQL on alias ``m``) of
        ``company`` from the deals of ``partners`` in their window: state,
        retained date and count, revenue, offer and total cost, whether the
        outcome is final; a member whose outcome is decided has no next
        step. Returns (member id, retained count, revenue) per member."""
        Profile = self.env["crm.customer.profile"]
        return SQL(
            """
            WITH deals AS (%(deals)s),
            members AS (
                SELECT m.id, m.state, m.window_end_date, m.responded_date, m.contacted_date,
                       m.contact_cost, m.member_group, c.offer_type, c.offer_value,
                       min(d.deal_date) AS first_date, sum(d.amount) AS revenue
                  FROM crm_retention_campaign_member m
                  JOIN crm_retention_campaign c ON c.id = m.campaign_id
                  LEFT JOIN deals d ON d.partner_id = m.partner_id
                       AND d.company_id = m.company_id
                       AND d.deal_date BETWEEN m.enrol_date AND m.window_end_date
                 WHERE m.company_id = %(company)s AND %(scope)s
                   AND m.member_group IN ('treated', 'control')
                 GROUP BY m.id, c.id
            ),
            outcome AS (
                SELECT id, first_date, COALESCE(revenue, 0) AS revenue,
                       CASE WHEN state = 'opted_out' THEN 'opted_out'
                            WHEN first_date IS NOT NULL THEN 'retained'
                            WHEN %(today)s > window_end_date THEN 'not_retained'
                            WHEN responded_date IS NOT NULL THEN 'responded'
                            WHEN contacted_date IS NOT NULL THEN 'contacted'
                            ELSE 'targeted' END AS new_state,
                       CASE WHEN first_date IS NULL OR member_group <> 'treated' THEN 0
                            WHEN offer_type = 'percentage'
                                THEN GREATEST(COALESCE(revenue, 0), 0) * offer_value / 100
                            WHEN offer_type = 'fixed'
                                THEN LEAST(offer_value, GREATEST(COALESCE(revenue, 0), 0))
                            ELSE 0 END AS offer_cost,
                       contact_cost,
                       %(today)s > window_end_date AS final
                  FROM members
            )
            UPDATE crm_retention_campaign_member m
               SET state = o.new_state,
                   retained_date = o.first_date,
                   retained_count = CASE WHEN o.first_date IS NULL THEN 0 ELSE 1 END,
                   revenue = ROUND(o.revenue::numeric, 2),
                   offer_cost = ROUND(o.offer_cost::numeric, 2),
                   cost = ROUND((COALESCE(o.contact_cost, 0) + o.offer_cost)::numeric, 2),
                   outcome_final = o.final,
                   next_step_id = CASE WHEN o.new_state IN ('retained', 'not_retained',
                                                            'opted_out')
                                       THEN NULL ELSE m.next_step_id END,
                   next_step_date = CASE WHEN o.new_state IN ('retained', 'not_retained',
                                                              'opted_out')
                                         THEN NULL ELSE m.next_step_date END,
                   write_date = now() at time zone 'UTC', write_uid = %(uid)s
              FROM outcome o
             WHERE m.id = o.id
         RETURNING m.id, m.retained_count, m.revenue
            """,
            deals=Profile._converted_deals_sql([company.id], today, partners),
            company=company.id,
            scope=scope,
            today=today,
            uid=self.env.uid,
        )

    @api.model
    def _mirror_outcomes_to_executions(self, rows):
        """Copy each member's outcome (``rows``: member id, retained count,
        revenue) onto its step executions, so the step statistics read
        them without a join per step."""
        if not rows:
            return
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_retention_campaign_step_execution e
                   SET member_retained = v.retained, member_revenue = v.revenue
                  FROM unnest(%s::int[], %s::int[], %s::numeric[]) AS v(id, retained, revenue)
                 WHERE e.member_id = v.id
                """,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
            )
        )
