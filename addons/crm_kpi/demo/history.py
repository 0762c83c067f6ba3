"""Demo data of crm_kpi that is built rather than declared: a year of
lifecycle history and KPI snapshots, the pipeline path of the demo
opportunities (for the funnel) and the cohorts.

Called once, at install with demo data, by ``hooks.post_init_hook``: not
model methods, so production code carries no demo machinery.
"""

from datetime import timedelta

from odoo import fields
from odoo.tools import SQL


def load(env):
    """Everything, in the order the reports need it."""
    load_history(env)
    load_stage_history(env)
    # what the nightly job leaves: the cohorts of every company
    env["crm.kpi.cohort"]._refresh()


def load_history(env, days=365):
    """Demo data only: give the demo customers a past and snapshot it.

    The lifecycle demo computes every stage on install day, so its
    history starts today and a KPI trend would be flat. This replays a
    plausible path from each demo customer's own deals (New at the first
    deal, Active at the second, At risk / Lost after 1.5x / 3x its usual
    interval without a deal, Won back at the comeback deal), ending in
    the stage the rules gave it, then back-fills ``days`` of snapshots.
    """
    Snapshot = env["crm.kpi.snapshot"]
    History = env["crm.lifecycle.history"]
    today = fields.Date.context_today(Snapshot)
    profiles = env["crm.customer.profile"].search(
        [("stage_id", "!=", False), ("partner_id.active", "=", True)]
    )
    stage_of = {}
    for company in profiles.company_id:
        for stage in env["crm.lifecycle.stage"].search(
            [("company_id", "in", [False, company.id])], order="sequence, id"
        ):
            stage_of.setdefault((company.id, stage.kind), stage)
    History.search([("profile_id", "in", profiles.ids)]).unlink()
    vals_list = []
    for profile in profiles:
        first = profile.first_deal_date
        kind = profile.stage_id.kind
        interval = max(profile.avg_days_between_deals or 0, 30.0)
        if not first:
            first = today - timedelta(days=30 + profile.id % 150)
            path = [("potential", first)]
        else:
            path = [("new", first)]
            if profile.won_count >= 2 and kind != "new":
                second = first + timedelta(days=max(int(interval), 1))
                path.append(("active", min(second, profile.prev_deal_date or second)))
            last = profile.last_deal_date or first
            if kind == "won_back":
                # lapsed after the previous deal, before the comeback deal
                lapse = profile.prev_deal_date or first
                lost = min(lapse + timedelta(days=int(3 * interval)), last - timedelta(days=1))
                path.append(("lost", max(lost, lapse + timedelta(days=1))))
                path.append(("won_back", last))
            elif kind in ("at_risk", "lost"):
                risk = last + timedelta(days=int(1.5 * interval))
                lost = last + timedelta(days=int(3 * interval))
                if lost >= today:
                    # lost by its churn probability before the rhythm rule:
                    # spread over the silence rather than all "yesterday"
                    silence = (today - last).days
                    risk = last + timedelta(days=int(silence * 0.4))
                    lost = last + timedelta(days=int(silence * 0.7))
                path.append(("at_risk", risk))
                if kind == "lost":
                    path.append(("lost", lost))
        if path[-1][0] != kind:
            path.append((kind, path[-1][1]))
        # strictly increasing days, none in the future: the last is today
        steps, previous = [], None
        for step_kind, day in path:
            day = min(day, today - timedelta(days=1))
            if previous and day <= previous:
                day = previous + timedelta(days=1)
            steps.append((step_kind, day))
            previous = day
        from_stage = False
        for i, (step_kind, day) in enumerate(steps):
            last_step = i == len(steps) - 1
            stage = (
                profile.stage_id if last_step else stage_of.get((profile.company_id.id, step_kind))
            )
            if not stage or stage.id == from_stage:
                continue
            vals_list.append(
                {
                    "profile_id": profile.id,
                    "from_stage_id": from_stage,
                    "stage_id": stage.id,
                    "date": fields.Datetime.to_datetime(day),
                    "reason": "rule",
                    "duration_days": (day - steps[i - 1][1]).days if i else 0,
                }
            )
            from_stage = stage.id
    history = History.create(vals_list)
    env.flush_all()
    # why SQL: one statement for "in stage since" = the replayed last move,
    # "lapsed" = the replayed last entry in At risk or Lost (of the customers
    # in those stages); and the
    # chatter notes of the first recompute give way to the replayed path
    field = env["ir.model.fields"]._get("res.partner", "lifecycle_stage_id")
    env.cr.execute(
        SQL(
            """
            UPDATE crm_customer_profile p
               SET stage_date = h.date,
                   -- only where it is shown as "since when lapsed": a Won back
                   -- customer's lapse dates its comeback, the rules' business
                   lapsed_date = CASE WHEN p.stage_kind IN ('at_risk', 'lost')
                                      THEN COALESCE(h.lapsed, p.lapsed_date)
                                      ELSE p.lapsed_date END
              FROM (SELECT profile_id, max(date) AS date,
                           max(date) FILTER (WHERE s.kind IN ('at_risk', 'lost'))::date
                               AS lapsed
                      FROM crm_lifecycle_history
                      JOIN crm_lifecycle_stage s ON s.id = stage_id
                     WHERE profile_id = ANY(%(ids)s) GROUP BY profile_id) h
             WHERE h.profile_id = p.id;
            DELETE FROM mail_message m
             USING mail_tracking_value v
             WHERE v.mail_message_id = m.id AND v.field_id = %(field)s
               AND m.model = 'res.partner' AND m.res_id = ANY(%(partners)s)
            """,
            ids=profiles.ids,
            field=field.id,
            partners=profiles.partner_id.ids,
        )
    )
    history._post_partner_messages()
    profiles.invalidate_recordset(["stage_date", "lapsed_date"])
    Snapshot._backfill(today - timedelta(days=days), today - timedelta(days=1))


def load_stage_history(env):
    """Demo data only: the demo opportunities are loaded without chatter,
    created on install day and closed months before, so the funnel would
    show one visit per lead and no conversion. This gives each lead without
    a tracked stage change a plausible path, set-based: it was created some
    days before its closing (or before today when open), went through the
    earlier stages of the pipeline in order, and reached its current stage
    at its closing date. The moves are written as the chatter writes them
    (a stage tracking value on a note), authored by the salesperson."""
    field = env["ir.model.fields"]._get("crm.lead", "stage_id")
    subtype = env.ref("crm.mt_lead_stage")
    env.flush_all()
    env.cr.execute(
        SQL(
            """
        CREATE TEMP TABLE crm_kpi_demo_moves ON COMMIT DROP AS
        WITH leads AS (
            SELECT l.id, l.stage_id, st.sequence, l.team_id, u.partner_id AS author_id,
                   COALESCE(CASE WHEN st.is_won OR NOT l.active THEN l.date_closed END,
                            now() AT TIME ZONE 'UTC') AS end_at,
                   (COALESCE(st.is_won, false) OR NOT l.active) AND l.date_closed IS NOT NULL AS closed
              FROM crm_lead l
              JOIN crm_stage st ON st.id = l.stage_id
              LEFT JOIN res_users u ON u.id = l.user_id
             WHERE l.type = 'opportunity'
               AND NOT EXISTS (
                   SELECT FROM mail_message m JOIN mail_tracking_value v
                            ON v.mail_message_id = m.id AND v.field_id = %(field)s
                    WHERE m.model = 'crm.lead' AND m.res_id = l.id)
        ),
        path AS (
            SELECT l.id AS lead_id, s.id AS stage_id,
                   row_number() OVER (PARTITION BY l.id ORDER BY s.sequence, s.id) AS step
              FROM leads l
              JOIN crm_stage s ON s.sequence < l.sequence AND NOT COALESCE(s.is_won, false)
                              AND (s.team_id IS NULL OR s.team_id = l.team_id)
        ),
        steps AS (
            SELECT lead_id, count(*) AS n FROM path GROUP BY lead_id
        ),
        moves AS (
            -- move k leaves the k-th stage of the path for the next one (the
            -- last move reaches the current stage)
            SELECT l.id AS lead_id, p.stage_id AS old_stage,
                   COALESCE(nxt.stage_id, l.stage_id) AS new_stage, p.step, s.n,
                   l.author_id, l.closed,
                   l.end_at - make_interval(days => 7 + mod(l.id, 35)) AS start_at, l.end_at
              FROM leads l
              JOIN steps s ON s.lead_id = l.id
              JOIN path p ON p.lead_id = l.id
              LEFT JOIN path nxt ON nxt.lead_id = l.id AND nxt.step = p.step + 1
        )
        SELECT lead_id, old_stage, new_stage, author_id, start_at,
               start_at + (end_at - start_at) * step
                   / (n + CASE WHEN closed THEN 0 ELSE 1 END)::float AS date
          FROM moves
            """,
            field=field.id,
        )
    )
    env.cr.execute(
        SQL(
            """
        WITH messages AS (
            INSERT INTO mail_message (model, res_id, message_type, subtype_id, body,
                                      author_id, date, create_date, write_date,
                                      create_uid, write_uid)
            SELECT 'crm.lead', lead_id, 'notification', %(subtype)s, '', author_id,
                   date, date, date, %(uid)s, %(uid)s
              FROM crm_kpi_demo_moves
            RETURNING id, res_id, date
        )
        INSERT INTO mail_tracking_value (field_id, mail_message_id, old_value_integer,
                                         new_value_integer, old_value_char, new_value_char,
                                         create_date, write_date, create_uid, write_uid)
        SELECT %(field)s, m.id, d.old_stage, d.new_stage,
               old.name->>'en_US', new.name->>'en_US', d.date, d.date, %(uid)s, %(uid)s
          FROM messages m
          JOIN crm_kpi_demo_moves d ON d.lead_id = m.res_id AND d.date = m.date
          JOIN crm_stage old ON old.id = d.old_stage
          JOIN crm_stage new ON new.id = d.new_stage
            """,
            subtype=subtype.id,
            uid=env.uid,
            field=field.id,
        )
    )
    # the story starts when the first stage is entered
    env.cr.execute(
        """
        UPDATE crm_lead l SET create_date = LEAST(l.create_date, d.start_at)
          FROM (SELECT lead_id, min(start_at) AS start_at
                  FROM crm_kpi_demo_moves GROUP BY lead_id) d
         WHERE d.lead_id = l.id;
        DROP TABLE crm_kpi_demo_moves;
        ANALYZE mail_message, mail_tracking_value;
        """
    )
    env.invalidate_all()
