"""The history rebuild: each customer's lifecycle history reconstructed from
its past deals, as the company's stage rules would have written it had the
nightly run existed since the first deal (``lib.rebuild`` places the days a
stage can change and walks them; the rules are evaluated here, in SQL, by
the same clauses as the nightly run).

When: the nightly run rebuilds the customers whose history starts after
their first deal (``history_start``: the run after installing, after a
bridge adds a source, after past sales were imported); a retention manager
rebuilds a company on demand (Configuration > Churn Model > Rebuild
History). Pinned customers keep their history. The automatic rebuild also
leaves alone a customer whose history holds a manager's change, a campaign
credit or a merge (facts no rule can replay); the manager's action rebuilds
them too.

How: the deal days of the customers are read once (COPY), then customers
are rebuilt by chunks of ``REBUILD_CHUNK``, each in its own transaction
(committed outside tests): the chunk's old history rows and their chatter
notes are deleted, the rebuilt rows inserted with their notes, the profiles'
stage, lapse and ``history_start`` set. A rebuild that dies resumes with the
customers not done (those marked done have their ``history_start``), and
rebuilding twice gives the same rows.
"""

import io
import logging
from datetime import date, timedelta

import numpy as np
import pandas as pd
from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.osv import expression
from odoo.tools import SQL

from ..lib import rebuild
from .layout import METRIC_COLUMNS

_logger = logging.getLogger(__name__)

# customers rebuilt per transaction
REBUILD_CHUNK = 20000
# the stage rules' fields that move every day between two deals, which the
# crossings of lib.rebuild do not cover: a rule reading one is evaluated on a
# weekly grid as well
CONTINUOUS_FIELDS = {
    "p_alive",
    "churn_probability",
    "days_since_last_deal",
    "overdue_ratio",
    "expected_deals_90d",
    "predicted_clv",
    "p_alive_if_deal",
    "value_if_retained",
    "value_at_risk",
    "metrics_date",
}
GRID_DAYS = 7
EPOCH = date(1970, 1, 1)


class CrmCustomerProfileRebuild(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _rebuild_history(self, company, profile_ids=None, automatic=False, today=None):
        """Rebuild the lifecycle history of ``company``'s customers.

        :param profile_ids: the profiles to rebuild; None: every profile of
            the company that has a stage and is not pinned (the manager's
            action), or, with ``automatic``, those whose history starts after
            their first deal and holds only the rules' rows
        :returns: the number of customers rebuilt

        Example (what the manager's button runs)::

            env["crm.customer.profile"].sudo()._rebuild_history(env.company)
        """
        today = today or fields.Date.context_today(self)
        cr = self.env.cr
        self.env.flush_all()
        if not automatic:
            # mark them first (committed): an interrupted rebuild resumes
            # with the customers still marked
            scope = SQL("AND p.id = ANY(%s)", list(profile_ids)) if profile_ids else SQL()
            cr.execute(
                SQL(
                    """UPDATE crm_customer_profile p SET history_start = NULL
                        WHERE p.company_id = %s AND p.stage_id IS NOT NULL
                          AND NOT COALESCE(p.stage_locked, false) %s""",
                    company.id,
                    scope,
                )
            )
            self._commit_progress()
        else:
            self._rebuild_keep_manual(company)
        todo = self._rebuild_candidates(company)
        if not todo:
            return 0
        model = self.env["crm.retention.model"]._get_for_company(company)
        settings = self.env["crm.retention.model"]._get_settings(company)
        context = {
            "today": (today - EPOCH).days,
            "interval": model.typical_interval_days or settings["default_interval_days"],
            "params": model._get_params(),
            "settings": settings,
        }
        # what the rules read decides how they are replayed, for every chunk
        read = self._rebuild_read_fields(company)
        context["read"] = read
        # a field that moves every day: a weekly grid too
        context["grid_days"] = GRID_DAYS if read & CONTINUOUS_FIELDS else None
        # something else than a metric of the day (a relation, the
        # salesperson, a custom field): per customer, with its current values
        context["by_profile"] = bool(read - {*METRIC_COLUMNS, "deals_since_lapse"})
        context["kinds"] = dict(
            self.env["crm.lifecycle.stage"]
            .sudo()
            .with_context(active_test=False)
            .search([])
            .mapped(lambda s: (s.id, s.kind))
        )
        partners = sorted(todo)
        everyone = len(partners) == self._rebuild_profile_count(company)
        with self._timed("rebuild: read deals"):
            days = self._rebuild_read_days(company, today, None if everyone else partners)
        done, earliest = 0, None
        for start in range(0, len(partners), REBUILD_CHUNK):
            chunk = partners[start : start + REBUILD_CHUNK]
            first = self._rebuild_chunk(company, chunk, todo, days, context)
            earliest = min(filter(None, [earliest, first]), default=None)
            done += len(chunk)
            self._commit_progress(done=done, remaining=len(partners) - done)
        # the rows written in bulk: plans must not depend on stale statistics
        cr.execute("ANALYZE crm_lifecycle_history")
        if earliest:
            self._rebuild_done(company, earliest, today)
        return done

    @api.model
    def _rebuild_done(self, company, date_from, today):
        """Extension point called after ``company``'s history was rebuilt
        from ``date_from`` (its earliest rebuilt change) on: what was
        derived from the history since then is stale (the KPI addon
        back-fills its snapshots)."""

    @api.model
    def _rebuild_profile_count(self, company):
        self.env.cr.execute(
            SQL("SELECT count(*) FROM crm_customer_profile WHERE company_id = %s", company.id)
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _rebuild_keep_manual(self, company):
        """Before an automatic rebuild: customers whose history holds a
        manager's change, a campaign credit or a merge keep it; their
        ``history_start`` is set to their first row, so they are not
        candidates."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_customer_profile p SET history_start = h.first_day
                  FROM (SELECT h.profile_id, min(h.date)::date AS first_day
                          FROM crm_lifecycle_history h
                         WHERE h.company_id = %(company)s
                           AND h.profile_id IN (
                               SELECT p2.id FROM crm_customer_profile p2
                                WHERE p2.company_id = %(company)s AND %(candidate)s)
                         GROUP BY h.profile_id
                        HAVING bool_or(h.reason IN ('manual', 'campaign', 'merge'))) h
                 WHERE p.id = h.profile_id
                """,
                company=company.id,
                candidate=self._rebuild_candidate_sql("p2"),
            )
        )

    @api.model
    def _rebuild_candidate_sql(self, alias):
        """A profile (``alias``) whose history must be rebuilt: it has a
        stage, is not pinned, and its history is unknown or starts after its
        first deal."""
        p = SQL.identifier(alias)
        return SQL(
            """%(p)s.stage_id IS NOT NULL AND NOT COALESCE(%(p)s.stage_locked, false)
               AND (%(p)s.history_start IS NULL OR %(p)s.history_start > %(p)s.first_deal_date)""",
            p=p,
        )

    @api.model
    def _rebuild_candidates(self, company):
        """{partner id: profile id} of the profiles to rebuild."""
        self.env.cr.execute(
            SQL(
                "SELECT p.partner_id, p.id FROM crm_customer_profile p"
                " WHERE p.company_id = %s AND %s",
                company.id,
                self._rebuild_candidate_sql("p"),
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _rebuild_read_days(self, company, today, partner_ids):
        """The deal days of the company's customers (``_deal_days_sql``),
        streamed by COPY: partner_id, day (days since 1970, NaN for the
        leads that are not deals), lead_count, n, amount, seen (day of the
        earliest lead or deal of the row)."""
        return self._read_frame(
            SQL(
                """WITH %s
                   SELECT partner_id, deal_date - DATE '1970-01-01' AS day, lead_count,
                          n, COALESCE(amount, 0) AS amount,
                          seen_date - DATE '1970-01-01' AS seen
                     FROM days""",
                self._deal_days_sql([company.id], today, partner_ids, seen=True),
            )
        )

    @api.model
    def _rebuild_chunk(self, company, partners, profile_of, days, context):
        """Rebuild the customers ``partners`` (ids) in one transaction;
        return the earliest day of their rebuilt changes (None: none)."""
        wanted = days["partner_id"].isin(partners)
        rows = days[wanted]
        deal_rows = rows[rows["day"].notna()].sort_values(["partner_id", "day"])
        customers = (
            rows.groupby("partner_id")
            .agg(opportunity_count=("lead_count", "sum"), seen_day=("seen", "min"))
            .reindex(partners)
            .rename_axis("partner_id")
            .reset_index()
        )
        customers["opportunity_count"] = customers["opportunity_count"].fillna(0)
        deals = pd.DataFrame(
            {
                "partner_id": deal_rows["partner_id"].to_numpy(),
                "day": deal_rows["day"].to_numpy(dtype=np.int64),
                "n": deal_rows["n"].to_numpy(dtype=np.int64),
                "amount": deal_rows["amount"].to_numpy(dtype=float),
            }
        )
        kwargs = {k: context[k] for k in ("interval", "params", "settings")}
        with self._timed("rebuild: points"):
            pts = rebuild.points(
                deals, customers, today=context["today"], grid_days=context["grid_days"], **kwargs
            )
            metrics = rebuild.metrics(pts, **kwargs)
        profile_ids = [profile_of[p] for p in partners]
        with self._timed("rebuild: rules"):
            stages = self._rebuild_evaluate(
                company,
                pts,
                metrics,
                context["read"],
                profile_of if context["by_profile"] else None,
                profile_ids,
            )
        with self._timed("rebuild: walk"):
            changes, final = rebuild.resolve(pts, stages, context["kinds"])
        with self._timed("rebuild: write"):
            self._rebuild_write(company, profile_ids, changes, final)
        if changes.empty:
            return None
        return EPOCH + timedelta(days=int(changes["day"].min()))

    @api.model
    def _rebuild_evaluate(self, company, pts, metrics, read, profile_of, profile_ids):
        """The stage the company's rules give each point if its
        ``deals_since_lapse`` were 0, 1, 2: an int array (points, 3), 0
        where no rule matches.

        The rules read a row aliased like the profile table, as in the
        nightly run. Only their fields travel, and only distinct
        combinations of them (a few hundred with the stock rules, however
        many customers); when a rule reads something else the profile's
        stored row fills the rest (``profile_of`` given: per customer).
        ``read``: the fields the rules read (``_rebuild_read_fields``).
        """
        columns = [c for c in METRIC_COLUMNS if c in read]
        frame = metrics[columns].copy()
        if profile_of is not None:
            frame.insert(0, "id", pts["partner_id"].map(profile_of).to_numpy())
        variants = [0, 1, 2] if "deals_since_lapse" in read else [0]
        combos = []
        for dsl in variants:
            combos.append(frame.assign(deals_since_lapse=dsl))
        everything = pd.concat(combos, ignore_index=True)
        keys = list(everything.columns)
        unique = everything.drop_duplicates(keys).reset_index(drop=True)
        unique["k"] = np.arange(len(unique))
        stage_of = self._rebuild_rule_stages(company, unique, keys, profile_ids)
        # each point's combination in each variant
        located = everything.merge(unique, on=keys, how="left")["k"].to_numpy()
        by_k = stage_of[located].reshape(len(variants), len(frame)).T
        if len(variants) == 1:
            by_k = np.repeat(by_k, 3, axis=1)
        return by_k

    @api.model
    def _rebuild_read_fields(self, company):
        """The profile fields the company's stage rules read."""
        read = set()
        for stage in self.env["crm.lifecycle.stage"].sudo()._get_company_stages(company):
            try:
                domain = expression.normalize_domain(stage._get_rule_domain())
            except Exception:  # noqa: BLE001 - skipped by _stage_cases as well
                continue
            read |= {
                leaf[0] for leaf in domain if expression.is_leaf(leaf) and isinstance(leaf[0], str)
            }
        return read

    @api.model
    def _rebuild_rule_stages(self, company, unique, keys, profile_ids):
        """Stage id per combination ``k`` of ``unique`` (0: no rule): the
        combinations are copied to a temporary table typed like the profile
        columns and the rules' CASE evaluated on it (one statement)."""
        cr = self.env.cr
        cases, _inline = self._stage_cases(company, profile_ids)
        if not cases:
            return np.zeros(len(unique), dtype=np.int64)
        types = {"id": "integer", "k": "integer"}
        for name in keys:
            if name in types:
                continue
            field = self._fields[name]
            types[name] = field.column_type[1] if field.type != "selection" else "varchar"
        cr.execute("DROP TABLE IF EXISTS crm_retention_rebuild_rules")
        cr.execute(
            SQL(
                "CREATE TEMP TABLE crm_retention_rebuild_rules (%s) ON COMMIT DROP",
                SQL(", ").join(
                    SQL("%s %s", SQL.identifier(c), SQL(types[c])) for c in ["k", *keys]
                ),
            )
        )
        out = unique[["k", *keys]].copy()
        for name in keys:
            if name in types and self._fields.get(name) and self._fields[name].type == "date":
                out[name] = pd.to_datetime(out[name]).dt.strftime("%Y-%m-%d")
        buf = io.StringIO()
        out.to_csv(buf, index=False, header=False, na_rep="")
        buf.seek(0)
        cr.copy_expert(
            "COPY crm_retention_rebuild_rules ({}) FROM STDIN WITH (FORMAT csv)".format(
                ", ".join(f'"{c}"' for c in ["k", *keys])
            ),
            buf,
        )
        if "id" in keys:
            # every other stored column from the customer's profile
            stored = [
                name
                for name, field in self._fields.items()
                if field.store and field.column_type and name not in keys
            ]
            row = SQL(
                "SELECT r.*, %s FROM crm_retention_rebuild_rules r "
                "JOIN crm_customer_profile p ON p.id = r.id",
                SQL(", ").join(SQL.identifier("p", c) for c in stored),
            )
        else:
            row = SQL("SELECT * FROM crm_retention_rebuild_rules")
        cr.execute(
            SQL(
                "SELECT crm_customer_profile.k, CASE %s END FROM (%s) AS crm_customer_profile",
                SQL(" ").join(cases),
                row,
            )
        )
        stage_of = np.zeros(len(unique), dtype=np.int64)
        for k, stage_id in cr.fetchall():
            stage_of[k] = stage_id or 0
        return stage_of

    @api.model
    def _rebuild_write(self, company, profile_ids, changes, final):
        """Replace the history of ``profile_ids`` by ``changes`` and set the
        profiles' stage, lapse and ``history_start`` from ``final``, with the
        partners' stage mirror and one chatter note per customer listing its
        rebuilt path (the notes of the rows replaced and of an earlier
        rebuild deleted)."""
        cr = self.env.cr
        History = self.env["crm.lifecycle.history"]
        cr.execute(
            """CREATE TEMP TABLE IF NOT EXISTS crm_retention_rebuild_rows
               (partner_id integer, day integer, from_stage integer, stage_id integer,
                duration_days float8) ON COMMIT DROP;
               CREATE TEMP TABLE IF NOT EXISTS crm_retention_rebuild_final
               (partner_id integer, stage_id integer, stage_day integer, lapsed_day integer,
                deals_since_lapse integer, start_day integer) ON COMMIT DROP;
               TRUNCATE crm_retention_rebuild_rows, crm_retention_rebuild_final"""
        )
        self._copy_frame(
            changes[["partner_id", "day", "from_stage", "stage_id", "duration_days"]],
            "crm_retention_rebuild_rows",
        )
        self._copy_frame(
            final[
                [
                    "partner_id",
                    "stage_id",
                    "stage_day",
                    "lapsed_day",
                    "deals_since_lapse",
                    "start_day",
                ]
            ],
            "crm_retention_rebuild_final",
        )
        cr.execute("ANALYZE crm_retention_rebuild_rows, crm_retention_rebuild_final")
        field = self.env["ir.model.fields"]._get("res.partner", "lifecycle_stage_id")
        now = fields.Datetime.now()
        lang = company.partner_id.lang or "en_US"
        cr.execute(
            SQL(
                """
                WITH removed AS (
                    DELETE FROM crm_lifecycle_history h
                     WHERE h.profile_id = ANY(%(ids)s)
                 RETURNING h.id
                ),
                notes AS (
                    -- a change's own note, or the summary of a rebuild
                    SELECT 'crm-lifecycle-history-' || removed.id || '@odoo' AS message_id
                      FROM removed
                     UNION ALL
                    SELECT 'crm-lifecycle-rebuild-' || unnest(%(ids)s::int[]) || '@odoo'
                )
                DELETE FROM mail_message m
                 WHERE m.message_id IN (SELECT message_id FROM notes)
                   AND m.model = 'res.partner'
                   AND (starts_with(m.message_id, 'crm-lifecycle-rebuild-')
                        OR EXISTS (SELECT 1 FROM mail_tracking_value v
                                    WHERE v.mail_message_id = m.id AND v.field_id = %(field)s))
                """,
                ids=profile_ids,
                field=field.id,
            )
        )
        cr.execute(
            SQL(
                """
                WITH history AS (
                    INSERT INTO crm_lifecycle_history
                           (profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                            reason, user_id, duration_days,
                            create_uid, create_date, write_uid, write_date)
                    SELECT p.id, p.partner_id, p.company_id, NULLIF(r.from_stage, 0), r.stage_id,
                           DATE '1970-01-01' + r.day, 'rebuild', %(bot)s, r.duration_days,
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM crm_retention_rebuild_rows r
                      JOIN crm_customer_profile p
                        ON p.partner_id = r.partner_id AND p.company_id = %(company)s
                     ORDER BY r.partner_id, r.day
                 RETURNING id, profile_id, partner_id, stage_id, date
                ),
                rebuild_notes AS (
                    -- one note per customer with its rebuilt path: a note per
                    -- change would write millions of messages for years past
                    INSERT INTO mail_message (model, res_id, body, message_type, subtype_id,
                           author_id, message_id, date, create_uid, create_date, write_uid,
                           write_date)
                    SELECT 'res.partner', h.partner_id,
                           %(title)s || '<ul>' || string_agg(
                               '<li>' || to_char(h.date, 'YYYY-MM-DD') || ': '
                               || replace(replace(replace(
                                      COALESCE(s.name->>%(lang)s, s.name->>'en_US'),
                                      '&', '&amp;'), '<', '&lt;'), '>', '&gt;')
                               || '</li>', '' ORDER BY h.date, h.id) || '</ul>',
                           'notification', %(subtype)s, %(author)s,
                           'crm-lifecycle-rebuild-' || h.profile_id || '@odoo', %(now)s,
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM history h
                      JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                     WHERE h.partner_id IS NOT NULL
                     GROUP BY h.profile_id, h.partner_id
                ),
                profiles AS (
                    UPDATE crm_customer_profile p
                       SET stage_id = f.stage_id, stage_kind = s.kind,
                           stage_date = DATE '1970-01-01' + f.stage_day,
                           lapsed_date = DATE '1970-01-01' + f.lapsed_day,
                           deals_since_lapse = f.deals_since_lapse,
                           history_start = COALESCE(DATE '1970-01-01' + f.start_day,
                                                    %(today)s::date),
                           write_uid = %(uid)s, write_date = %(now)s
                      FROM crm_retention_rebuild_final f
                      JOIN crm_lifecycle_stage s ON s.id = f.stage_id
                      JOIN crm_customer_profile prev
                        ON prev.partner_id = f.partner_id AND prev.company_id = %(company)s
                     WHERE p.id = prev.id
                 RETURNING p.partner_id, p.company_id, p.stage_id,
                           -- the partner's mirror is behind: a new stage, or a
                           -- profile whose history was never written
                           (prev.stage_id IS DISTINCT FROM p.stage_id
                            OR prev.history_start IS NULL) AS mirror
                )
                %(mirror)s
                """,
                company=company.id,
                bot=SUPERUSER_ID,
                uid=self.env.uid,
                now=now,
                today=fields.Date.context_today(self),
                title=str(
                    Markup("<p>%s</p>")
                    % self.with_context(lang=lang).env._(
                        "Lifecycle history rebuilt from purchases (see Stage History):"
                    )
                ),
                lang=lang,
                subtype=self.env.ref("mail.mt_note").id,
                author=self.env.ref("base.partner_root").id,
                mirror=self._partner_stage_sql(SQL("(SELECT * FROM profiles WHERE mirror)")),
            )
        )
        self.invalidate_model()
        History.invalidate_model()
        self.env["mail.message"].invalidate_model()
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id", "message_ids"])

    @api.model
    def _copy_frame(self, frame, table):
        """COPY the columns of ``frame`` into ``table`` (same names), NaN as NULL."""
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False, na_rep="", float_format="%.10g")
        buf.seek(0)
        self.env.cr.copy_expert(
            "COPY {} ({}) FROM STDIN WITH (FORMAT csv)".format(
                table, ", ".join(f'"{c}"' for c in frame.columns)
            ),
            buf,
        )
