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
# the profile columns of a recommendation
NBA_COLUMNS = [
    "recommended_action",
    "recommended_offer",
    "recommended_margin",
    "recommended_uplift",
    "recommended_uplift_low",
    "recommended_uplift_high",
    "recommended_members",
    "recommended_campaigns",
]


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
    def _nba_plan(self, company):
        """The evidence the next best actions are computed from, as stored
        on the churn model (``nba_plan``): ``{"bounds": [low, high],
        "estimates": [[offer, risk band, value band, shrunk uplift, low,
        high, members, campaigns, cost per member], ...]}``."""
        cells, bounds, costs = self._nba_evidence(company)
        return {
            "bounds": [float(b) for b in bounds],
            "estimates": [
                [
                    e.offer,
                    e.risk_band,
                    e.value_band,
                    float(e.shrunk),
                    float(e.low),
                    float(e.high),
                    e.treated_n + e.control_n,
                    e.campaigns,
                    float(costs.get(e.offer, 0.0)),
                ]
                for e in nba.estimate(cells)
            ],
        }

    @api.model
    def _nba_sql(self, plan, row, kind):
        """``(join, {column: SQL})``: the next best action of the profile row
        ``row`` (an SQL alias with ``risk_level`` and ``value_at_risk``)
        whose stage kind is ``kind`` (SQL), from ``plan`` (``_nba_plan``):
        the offer of highest ``uplift x value at risk - cost`` among the
        estimates of its segment (``join``, a lateral over the few
        estimates, empty without evidence), no action when none pays, an
        experiment when no estimate covers the segment; nothing for a
        customer neither at risk nor lost. Each column is cast to its own
        type, so an unchanged recommendation compares equal to the stored
        one and the row is not rewritten."""

        def typed(name, value):
            return SQL("CAST(%s AS %s)", value, SQL(self._fields[name].column_type[1]))

        target = SQL("COALESCE(%s = ANY(%s), false)", kind, list(NBA_KINDS))
        if not plan["estimates"]:
            return SQL(), {
                "recommended_action": typed(
                    "recommended_action", SQL("CASE WHEN %s THEN 'experiment' END", target)
                ),
                **{name: typed(name, SQL("NULL")) for name in NBA_COLUMNS[1:]},
            }
        rows = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s::float8, %s::float8, %s::float8, %s, %s, %s::float8)",
                *estimate,
            )
            for estimate in plan["estimates"]
        )
        join = SQL(
            """
            LEFT JOIN LATERAL (
                SELECT e.offer, e.uplift, e.low, e.high, e.members, e.campaigns,
                       e.uplift * COALESCE(%(row)s.value_at_risk, 0) - e.cost AS margin
                  FROM (VALUES %(rows)s)
                       AS e(offer, risk_band, value_band, uplift, low, high, members,
                            campaigns, cost)
                 WHERE %(target)s AND e.risk_band = %(row)s.risk_level
                   AND e.value_band = %(band)s
                 ORDER BY 7 DESC, e.offer DESC
                 LIMIT 1
            ) nba ON true
            """,
            row=row,
            rows=rows,
            target=target,
            band=self._value_band_sql(SQL("%s.value_at_risk", row), plan["bounds"]),
        )
        return join, {
            "recommended_action": typed(
                "recommended_action",
                SQL(
                    "CASE WHEN NOT %s THEN NULL WHEN nba.offer IS NULL THEN 'experiment'"
                    " WHEN nba.margin > 0 THEN 'offer' ELSE 'no_action' END",
                    target,
                ),
            ),
            "recommended_offer": typed(
                "recommended_offer", SQL("CASE WHEN nba.margin > 0 THEN nba.offer END")
            ),
            "recommended_margin": typed("recommended_margin", SQL("nba.margin")),
            "recommended_uplift": typed("recommended_uplift", SQL("nba.uplift")),
            "recommended_uplift_low": typed("recommended_uplift_low", SQL("nba.low")),
            "recommended_uplift_high": typed("recommended_uplift_high", SQL("nba.high")),
            "recommended_members": typed("recommended_members", SQL("nba.members")),
            "recommended_campaigns": typed("recommended_campaigns", SQL("nba.campaigns")),
        }

    @api.model
    def _batch_staged_sql(self, company=None, row=None, kind=None):
        """The next best action in the batch's row write, from the evidence
        the night's run froze on the churn model (``nba_plan``, see
        ``_prepare_run``): no second UPDATE of the customers at risk after
        the run, and a won deal moves the recommendation at once. Before
        any run stored a plan, the stored recommendation is kept."""
        join, staged = super()._batch_staged_sql(company, row, kind)
        plan = (
            self.env["crm.retention.model"].sudo()._get_for_company(company).nba_plan
            if company is not None
            else None
        )
        if not plan:
            nba_join, columns = (
                SQL(),
                {
                    name: SQL("%s.%s", row, SQL.identifier(name)) if row else SQL()
                    for name in NBA_COLUMNS
                },
            )
        else:
            nba_join, columns = self._nba_sql(plan, row, kind)
        return SQL("%s %s", join, nba_join), {**staged, **columns}

    @api.model
    def _recommend_company(self, company, plan=None):
        """Write the next best action of every customer of the company from
        ``plan`` (``_nba_plan``; default: its evidence as of now, then kept
        on the churn model for the batches that follow), and clear it for
        the others. The nightly run writes the recommendations in its
        batches instead (see ``_batch_staged_sql``); this full pass serves
        the companies whose stage rules are evaluated after the batch.
        Returns the plan."""
        if plan is None:
            plan = self._nba_plan(company)
            self.env["crm.retention.model"].sudo()._get_for_company(company).nba_plan = plan
        join, columns = self._nba_sql(plan, SQL("p"), SQL("p.stage_kind"))
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_customer_profile t
                   SET %(set)s
                  FROM (SELECT p.id, %(values)s
                          FROM crm_customer_profile p
                          %(join)s
                         WHERE p.company_id = %(company)s
                           AND (p.stage_kind = ANY(%(kinds)s)
                                OR p.recommended_action IS NOT NULL)) n
                 WHERE t.id = n.id AND (%(old)s) IS DISTINCT FROM (%(new)s)
                """,
                set=SQL(", ").join(
                    SQL("%s = n.%s", SQL.identifier(c), SQL.identifier(c)) for c in NBA_COLUMNS
                ),
                values=SQL(", ").join(
                    SQL("%s AS %s", columns[c], SQL.identifier(c)) for c in NBA_COLUMNS
                ),
                join=join,
                company=company.id,
                kinds=list(NBA_KINDS),
                old=SQL(", ").join(SQL.identifier("t", c) for c in NBA_COLUMNS),
                new=SQL(", ").join(SQL.identifier("n", c) for c in NBA_COLUMNS),
            )
        )
        self.invalidate_model(NBA_COLUMNS)
        return plan


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
