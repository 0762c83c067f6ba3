"""Demo data of crm_kpi that is built rather than declared: a year of KPI
snapshots over the rebuilt lifecycle history, the pipeline path of the demo
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
    env["crm.kpi.survival"]._refresh()


def load_history(env, days=365):
    """Demo data only: snapshot the demo customers' past year.

    Their lifecycle history was rebuilt from their deals by crm_retention's
    first recompute (``crm.customer.profile._rebuild_history``), as on any
    database the suite is installed on; the KPI snapshots of the year are
    written here at once rather than by the back-fill job.
    """
    Snapshot = env["crm.kpi.snapshot"]
    today = fields.Date.context_today(Snapshot)
    Snapshot._backfill(today - timedelta(days=days), today - timedelta(days=1))
    # the back-fill the rebuild queued is done
    env["ir.config_parameter"].sudo().search(
        [("key", "=like", "crm_kpi.backfill_pending.%")]
    ).unlink()


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
