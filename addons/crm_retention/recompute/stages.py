"""The stage rules of the lifecycle recompute: the company's rules as SQL
``CASE`` clauses (``_stage_cases``), the kind of a stage, the re-evaluation
of stages alone when a rule changed (``_evaluate_stages``) and the reason a
change is logged with (a comeback a campaign can claim is the campaign's).

The batch writer (``writer``) evaluates the same clauses inside its own
statement; both credit a comeback the same way (``_history_reason_sql``).
"""

import logging

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL

from ..lib import definitions

_logger = logging.getLogger(__name__)


class CrmCustomerProfileStages(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _stage_kind_sql(self, stage_id):
        """The kind of the stage ``stage_id`` (an SQL expression) as a CASE
        over the stages: per row, a join to the stage table costs more than
        the rest of the row's write."""
        stages = self.env["crm.lifecycle.stage"].sudo().with_context(active_test=False).search([])
        lookup = SQL("(SELECT s.kind FROM crm_lifecycle_stage s WHERE s.id = %s)", stage_id)
        if not stages:
            return lookup
        whens = SQL(" ").join(SQL("WHEN %s THEN %s", stage.id, stage.kind) for stage in stages)
        return SQL("CASE %s %s ELSE %s END", stage_id, whens, lookup)

    @api.model
    def _stage_cases(self, company, profile_ids=None):
        """The company's stage rules as ``WHEN condition THEN stage_id`` SQL
        clauses, in sequence, and whether they can be evaluated inline.

        The ORM turns each rule domain into SQL, so any domain the widget can
        build works. A rule on the profile's own columns is its WHERE clause
        (alias ``crm_customer_profile``) and can be evaluated on any row
        aliased so, such as a batch's new values ("inline"). A rule through
        relations becomes an ``id IN (sub-select)`` over the stored profiles
        ``profile_ids``; with such a rule the result is not inline (or, when
        ``profile_ids`` is None, the rule is left out). A rule that is broken
        (a field removed since) or fails in SQL is skipped and logged.
        """
        Profile = self.sudo().with_context(active_test=False)
        stages = self.env["crm.lifecycle.stage"].sudo()._get_company_stages(company)
        cases = []
        inline = True
        for stage in stages:
            try:
                domain = stage._get_rule_domain()
                # evaluated as superuser: only what a rule may read (a rule
                # saved before the check existed, or written in SQL)
                stage._check_rule_leaves(expression.normalize_domain(domain))
                query = Profile._where_calc(domain)
            except Exception:  # noqa: BLE001 - a rule broken by a later field change
                _logger.exception("Skipping lifecycle stage %s: invalid rule", stage.id)
                continue
            if query._joins:
                inline = False
                if profile_ids is None:
                    continue
                # a rule through relations: a sub-select limited to the batch
                query.add_where(SQL("%s = ANY(%s)", SQL.identifier(query.table, "id"), profile_ids))
                condition = SQL(
                    "crm_customer_profile.id IN (%s)",
                    query.subselect(SQL.identifier(query.table, "id")),
                )
            else:
                condition = query.where_clause or SQL("TRUE")
            try:
                # a rule can be valid Python yet fail in SQL (a bad date
                # value): it must not block every deal of the company. LIMIT 0
                # plans the condition (literals are cast then) without a scan.
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        SQL("SELECT 1 FROM crm_customer_profile WHERE %s LIMIT 0", condition)
                    )
            except Exception:  # noqa: BLE001
                _logger.exception("Skipping lifecycle stage %s: its rule fails", stage.id)
                continue
            cases.append(SQL("WHEN %s THEN %s", condition, stage.id))
        return cases, inline

    @api.model
    def _evaluate_stages(self, company, profile_ids, today, reason="rule"):
        """Apply the stage rules to ``profile_ids`` in SQL and log changes.

        A customer that comes back (Won back / Active) while it is in the
        outcome window of a retention campaign that contacted it gets the
        history reason "campaign" instead of ``reason``: the campaign, not
        the rule, is what the history then credits.

        The stages of the company are tried in sequence: the ORM turns each
        rule domain into SQL (so any domain the widget can build works) and
        the conditions are combined into one ``CASE WHEN rule THEN stage``
        update; a rule through relations becomes an ``id IN (sub-select)``. Pinned profiles are left
        alone. Returns the ``crm.lifecycle.history`` records created.
        """
        if not profile_ids:
            return self.env["crm.lifecycle.history"]
        cases, _inline = self._stage_cases(company, profile_ids)
        if not cases:
            return self.env["crm.lifecycle.history"]
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                WITH target AS (
                    SELECT crm_customer_profile.id,
                           crm_customer_profile.stage_id AS old_stage,
                           crm_customer_profile.stage_date AS old_date,
                           CASE %(cases)s END AS new_stage
                      FROM crm_customer_profile
                     WHERE crm_customer_profile.id = ANY(%(ids)s)
                       AND NOT COALESCE(crm_customer_profile.stage_locked, false)
                ),
                changed AS (
                    UPDATE crm_customer_profile p
                       SET stage_id = t.new_stage, stage_date = %(now)s,
                           stage_kind = s.kind,
                           lapsed_date = CASE WHEN s.kind IN ('at_risk', 'lost')
                                               AND COALESCE(os.kind, '') NOT IN ('at_risk', 'lost')
                                              THEN %(today)s ELSE p.lapsed_date END
                      FROM target t
                      JOIN crm_lifecycle_stage s ON s.id = t.new_stage
                      LEFT JOIN crm_lifecycle_stage os ON os.id = t.old_stage
                     WHERE p.id = t.id AND t.new_stage IS DISTINCT FROM t.old_stage
                       AND t.new_stage IS NOT NULL
                 RETURNING p.id, p.partner_id, p.company_id, t.old_stage, t.new_stage, t.old_date,
                           s.kind AS new_kind
                )
                INSERT INTO crm_lifecycle_history
                       (profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                        reason, user_id, duration_days,
                        create_uid, create_date, write_uid, write_date)
                SELECT id, partner_id, company_id, old_stage, new_stage, %(now)s,
                       %(reason)s,
                       %(uid)s,
                       COALESCE(EXTRACT(EPOCH FROM (%(now)s - old_date)) / 86400.0, 0),
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM changed
                RETURNING id
                """,
                cases=SQL(" ").join(cases),
                ids=profile_ids,
                now=now,
                today=today,
                reason=self._history_reason_sql(
                    SQL("changed.id"), SQL("changed.new_kind"), reason, today
                ),
                uid=self.env.uid,
            )
        )
        history_ids = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model()
        history = self.env["crm.lifecycle.history"].sudo().browse(history_ids)
        history.invalidate_model()
        if history:
            history.profile_id._sync_partner_stage()
            history._post_partner_messages()
            history._after_bulk_create(history)
        return history

    @api.model
    def _campaign_attributed_sql(self, profile_id, today):
        """SQL condition: the profile ``profile_id`` (an SQL expression) is in
        a campaign that can claim its comeback, i.e. a treated member,
        contacted by a step, inside its outcome window on ``today``.

        Both stage writers use it (the batch upsert of the recompute and
        ``_evaluate_stages``), so a comeback is credited the same way
        whichever path finds it.
        """
        return SQL(
            """EXISTS (
                SELECT 1 FROM crm_retention_campaign_member cm
                 WHERE cm.profile_id = %(profile)s AND cm.member_group = 'treated'
                   AND cm.contacted_date IS NOT NULL
                   AND cm.enrol_date <= %(today)s AND cm.window_end_date >= %(today)s
            )""",
            profile=profile_id,
            today=today,
        )

    @api.model
    def _history_reason_sql(self, profile_id, stage_kind, reason, today):
        """The history reason of a stage change: "campaign" for a comeback
        (Won back / Active) that a campaign can claim, else ``reason``; a move
        the books made (``definitions.NOT_FLOW_REASONS``: the stage rules
        changed) is no comeback a campaign can claim."""
        if reason in definitions.NOT_FLOW_REASONS:
            return SQL("%s", reason)
        self.env["crm.retention.campaign.member"].flush_model(
            ["profile_id", "member_group", "contacted_date", "enrol_date", "window_end_date"]
        )
        return SQL(
            "CASE WHEN %(kind)s = ANY(%(comeback)s) AND %(attributed)s "
            "THEN 'campaign' ELSE %(reason)s END",
            comeback=list(definitions.COMEBACK_KINDS),
            kind=stage_kind,
            attributed=self._campaign_attributed_sql(profile_id, today),
            reason=reason,
        )
