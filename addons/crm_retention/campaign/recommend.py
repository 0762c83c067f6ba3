"""The next best action of each customer at risk or lost, from the company's
finished experiments (``lib.nba``).

Evidence: the members whose outcome window is closed (``outcome_final``) of
the company's campaigns that held out a control group, with the customer's
risk level and value at risk frozen when they were enrolled. Campaigns of
the same objective and offer type are one offer. ``lib.nba.estimate``
shrinks each segment's uplift toward its offer's; the recommendation
(``lib.nba.recommend``: the offer of highest ``uplift x value at risk - cost
per member``, no action when none pays, an experiment when no evidence
covers the segment) is written to every profile of the company at risk or
lost by one UPDATE, the arg-max taken in SQL over the few estimates.

Run at the end of the nightly recompute (``_recompute_company``).
"""

from odoo import api, models
from odoo.tools import SQL

from ..lib import nba

# the stage kinds a next best action is computed for
NBA_KINDS = ("at_risk", "lost")


class CrmCustomerProfileRecommend(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _nba_evidence(self, company):
        """``lib.nba.Cell`` per offer and segment from the company's closed
        experiments, the tercile bounds of the value at risk of its
        customers at risk or lost (the value bands), and each offer's mean
        cost per treated member."""
        cr = self.env.cr
        self.env.flush_all()
        cr.execute(
            SQL(
                """
                SELECT percentile_cont(ARRAY[1.0 / 3, 2.0 / 3])
                       WITHIN GROUP (ORDER BY value_at_risk)
                  FROM crm_customer_profile
                 WHERE company_id = %s AND stage_kind = ANY(%s) AND value_at_risk > 0
                """,
                company.id,
                list(NBA_KINDS),
            )
        )
        bounds = cr.fetchone()[0] or [0.0, 0.0]
        cr.execute(
            SQL(
                """
                WITH members AS (
                    SELECT c.objective || ':' || c.offer_type AS offer, m.member_group,
                           m.enrol_risk_level AS risk_band,
                           %(value_band)s AS value_band,
                           (m.retained_count > 0)::int AS kept, m.campaign_id, m.cost
                      FROM crm_retention_campaign_member m
                      JOIN crm_retention_campaign c ON c.id = m.campaign_id
                     WHERE c.company_id = %(company)s AND m.outcome_final
                       AND m.member_group IN ('treated', 'control')
                       AND m.enrol_risk_level IS NOT NULL AND c.offer_type IS NOT NULL
                       -- an experiment: the campaign held out a control group
                       AND EXISTS (SELECT 1 FROM crm_retention_campaign_member cm
                                    WHERE cm.campaign_id = c.id AND cm.member_group = 'control')
                )
                SELECT offer, risk_band, value_band,
                       count(*) FILTER (WHERE member_group = 'treated'),
                       COALESCE(sum(kept) FILTER (WHERE member_group = 'treated'), 0),
                       count(*) FILTER (WHERE member_group = 'control'),
                       COALESCE(sum(kept) FILTER (WHERE member_group = 'control'), 0),
                       count(DISTINCT campaign_id)
                  FROM members GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """,
                company=company.id,
                value_band=self._value_band_sql(SQL("m.enrol_value_at_risk"), bounds),
            )
        )
        cells = [nba.Cell(*row) for row in cr.fetchall()]
        cr.execute(
            SQL(
                """
                SELECT c.objective || ':' || c.offer_type, avg(COALESCE(m.cost, 0))
                  FROM crm_retention_campaign_member m
                  JOIN crm_retention_campaign c ON c.id = m.campaign_id
                 WHERE c.company_id = %s AND m.outcome_final AND m.member_group = 'treated'
                   AND c.offer_type IS NOT NULL
                 GROUP BY 1
                """,
                company.id,
            )
        )
        costs = dict(cr.fetchall())
        return cells, tuple(bounds), costs

    @api.model
    def _value_band_sql(self, value, bounds):
        """SQL of ``lib.nba.value_band`` for the value at risk ``value`` (an
        SQL expression; none counts as 0) and the tercile ``bounds``: the
        same bands for the members' evidence and today's customers."""
        return SQL(
            "CASE WHEN COALESCE(%s, 0) < %s THEN 'low' WHEN COALESCE(%s, 0) < %s THEN 'mid' "
            "ELSE 'high' END",
            value,
            bounds[0],
            value,
            bounds[1],
        )

    @api.model
    def _recommend_company(self, company):
        """Write the next best action of the company's customers at risk or
        lost (and clear it for the others). Returns the estimates used."""
        cells, bounds, costs = self._nba_evidence(company)
        estimates = nba.estimate(cells)
        rows = [
            SQL(
                "(%s, %s, %s, %s::float8, %s::float8, %s::float8, %s, %s, %s, %s::float8)",
                e.offer,
                e.risk_band,
                e.value_band,
                e.shrunk,
                e.low,
                e.high,
                e.treated_n + e.control_n,
                e.campaigns,
                e.treated_n,
                costs.get(e.offer, 0.0),
            )
            for e in estimates
        ]
        estimates_sql = (
            SQL("VALUES %s", SQL(", ").join(rows))
            if rows
            else SQL(
                "SELECT NULL::varchar, NULL::varchar, NULL::varchar, 0::float8, 0::float8, "
                "0::float8, 0, 0, 0, 0::float8 WHERE false"
            )
        )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                WITH est (offer, risk_band, value_band, uplift, low, high, members, campaigns,
                          treated, cost) AS (%(estimates)s),
                targets AS (
                    SELECT p.id, p.risk_level, COALESCE(p.value_at_risk, 0) AS value_at_risk,
                           %(value_band)s AS value_band
                      FROM crm_customer_profile p
                     WHERE p.company_id = %(company)s AND p.stage_kind = ANY(%(kinds)s)
                ),
                best AS (
                    -- the offer of highest expected margin in the segment
                    SELECT DISTINCT ON (t.id) t.id, e.offer, e.uplift, e.low, e.high,
                           e.members, e.campaigns, e.uplift * t.value_at_risk - e.cost AS margin
                      FROM targets t
                      JOIN est e ON e.risk_band = t.risk_level AND e.value_band = t.value_band
                     ORDER BY t.id, e.uplift * t.value_at_risk - e.cost DESC, e.offer DESC
                ),
                new AS (
                    SELECT p.id,
                           CASE WHEN t.id IS NULL THEN NULL
                                WHEN b.id IS NULL THEN 'experiment'
                                WHEN b.margin > 0 THEN 'offer'
                                ELSE 'no_action' END AS action,
                           CASE WHEN b.margin > 0 THEN b.offer END AS offer,
                           b.margin, b.uplift, b.low, b.high, b.members, b.campaigns
                      FROM crm_customer_profile p
                      LEFT JOIN targets t ON t.id = p.id
                      LEFT JOIN best b ON b.id = p.id
                     WHERE p.company_id = %(company)s
                       AND (t.id IS NOT NULL OR p.recommended_action IS NOT NULL)
                )
                UPDATE crm_customer_profile p
                   SET recommended_action = n.action, recommended_offer = n.offer,
                       recommended_margin = n.margin, recommended_uplift = n.uplift,
                       recommended_uplift_low = n.low, recommended_uplift_high = n.high,
                       recommended_members = n.members, recommended_campaigns = n.campaigns
                  FROM new n
                 WHERE p.id = n.id
                   AND (p.recommended_action, p.recommended_offer, p.recommended_margin,
                        p.recommended_uplift, p.recommended_members)
                       IS DISTINCT FROM (n.action, n.offer, n.margin, n.uplift, n.members)
                """,
                estimates=estimates_sql,
                company=company.id,
                kinds=list(NBA_KINDS),
                value_band=self._value_band_sql(SQL("p.value_at_risk"), bounds),
            )
        )
        self.invalidate_model()
        return estimates


class CrmRetentionCampaignMemberRecommend(models.Model):
    _inherit = "crm.retention.campaign.member"

    def _freeze_enrolment_state(self):
        """Keep the customer's risk level and value at risk as they were at
        enrolment: the segment the member is evidence for."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_retention_campaign_member m
                   SET enrol_risk_level = p.risk_level, enrol_value_at_risk = p.value_at_risk
                  FROM crm_customer_profile p
                 WHERE p.id = m.profile_id AND m.id = ANY(%s)
                """,
                self.ids,
            )
        )
        self.invalidate_recordset(["enrol_risk_level", "enrol_value_at_risk"])

    @api.model
    def _offer_label(self, offer):
        """``"Retain at-risk customers: Percentage discount"`` for the offer
        key ``"retain:percentage"``, in the user's language."""
        if not offer:
            return ""
        Campaign = self.env["crm.retention.campaign"]
        objective, _sep, offer_type = offer.partition(":")
        labels = dict(Campaign._fields["objective"]._description_selection(self.env))
        types = dict(Campaign._fields["offer_type"]._description_selection(self.env))
        return f"{labels.get(objective, objective)}: {types.get(offer_type, offer_type)}"
