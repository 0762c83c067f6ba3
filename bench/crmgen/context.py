"""What the target database already holds: companies, salespeople and teams, stages, lost reasons, languages, countries, the row locks of a load."""

import sys

import numpy as np

from .constants import COUNTRIES


# ---------------------------------------------------------------------------
# database context
# ---------------------------------------------------------------------------
def load_context(cr, args):
    ctx = {}
    cr.execute("SELECT id FROM res_company ORDER BY id")
    all_companies = [r[0] for r in cr.fetchall()]
    if args.company_id not in all_companies:
        sys.exit(f"company {args.company_id} does not exist (companies: {all_companies})")
    companies = [args.company_id] + [c for c in all_companies if c != args.company_id]
    if args.companies > len(companies):
        sys.exit(f"--companies {args.companies}: the database has only {len(companies)} companies")
    ctx["companies"] = np.array(companies[: args.companies], dtype=np.int64)
    cr.execute(
        "SELECT id FROM res_company WHERE id = ANY(%s) FOR KEY SHARE",
        (list(map(int, ctx["companies"])),),
    )

    cr.execute("SELECT id, currency_id FROM res_company WHERE id = ANY(%s)", (companies,))
    currency = dict(cr.fetchall())
    ctx["company_currency"] = np.array([currency[int(c)] for c in ctx["companies"]], dtype=np.int64)

    cr.execute("""SELECT id FROM res_users WHERE active AND NOT share AND id <> 1
                  ORDER BY id FOR KEY SHARE""")
    users = [r[0] for r in cr.fetchall()]
    if not users:
        cr.execute("SELECT id FROM res_users WHERE NOT share ORDER BY id LIMIT 1")
        users = [r[0] for r in cr.fetchall()]
    ctx["users"] = np.array(users, dtype=np.int64)
    # salespeople allowed in each company (check_company of crm.lead.user_id)
    cr.execute("SELECT user_id, cid FROM res_company_users_rel")
    rel = set(cr.fetchall())
    ctx["allowed"] = np.array(
        [[(u, int(c)) in rel for c in ctx["companies"]] for u in users], dtype=bool
    ).reshape(len(users), len(ctx["companies"]))

    cr.execute("""SELECT m.user_id, t.id, t.company_id FROM crm_team_member m
                    JOIN crm_team t ON t.id = m.crm_team_id
                   WHERE m.active AND t.active ORDER BY t.sequence, t.id""")
    memberships = cr.fetchall()
    cr.execute("SELECT id, company_id FROM crm_team WHERE active ORDER BY sequence, id")
    teams = cr.fetchall()
    # team of (user index, company index); -1 = none
    team_of = np.full((len(users) + 1, len(ctx["companies"])), -1, dtype=np.int64)
    for ci, company in enumerate(ctx["companies"]):
        default = next((t for t, c in teams if c in (None, company)), -1)
        for ui, user in enumerate(users):
            team_of[ui, ci] = next(
                (t for u, t, c in memberships if u == user and c in (None, company)), default
            )
        team_of[len(users), ci] = default  # no salesperson
    ctx["team_of"] = team_of
    used_teams = sorted({int(t) for t in team_of.ravel() if t > 0})
    if used_teams:
        cr.execute("SELECT id FROM crm_team WHERE id = ANY(%s) FOR KEY SHARE", (used_teams,))

    cr.execute("""SELECT id, is_won, fold, team_id FROM crm_stage
                   ORDER BY team_id IS NOT NULL, sequence, id FOR KEY SHARE""")
    stages = cr.fetchall()
    glob = [s for s in stages if s[3] is None] or stages
    won = [s[0] for s in glob if s[1]] or [s[0] for s in stages if s[1]]
    pipeline = [s[0] for s in glob if not s[1] and not s[2]] or [s[0] for s in glob if not s[1]]
    if not won or not pipeline:
        sys.exit("crm_stage needs a won stage and at least one pipeline stage")
    ctx["won_stage"] = won[0]
    ctx["pipeline"] = np.array(pipeline, dtype=np.int64)
    k = len(pipeline)
    ctx["pipeline_prob"] = np.round(10 + 70 * np.arange(k) / max(k - 1, 1)).astype(np.float64)

    cr.execute("SELECT id FROM crm_lost_reason WHERE active ORDER BY id FOR KEY SHARE")
    ctx["lost_reasons"] = np.array([r[0] for r in cr.fetchall()], dtype=np.int64)

    codes = [c[0] for c in COUNTRIES]
    cr.execute("SELECT code, id FROM res_country WHERE code = ANY(%s) FOR KEY SHARE", (codes,))
    country_ids = dict(cr.fetchall())
    missing = set(codes) - set(country_ids)
    if missing:
        sys.exit(f"res_country lacks {sorted(missing)}")
    ctx["country_id"] = np.array([country_ids[c] for c in codes], dtype=np.int64)

    cr.execute("SELECT code, id FROM res_lang WHERE active ORDER BY id FOR KEY SHARE")
    langs = dict(cr.fetchall())
    if not langs:
        sys.exit("no active language")
    fallback = "en_US" if "en_US" in langs else next(iter(langs))
    lang_codes = []
    for c in COUNTRIES:
        lang_codes.append(next((code for code in c[2] if code in langs), fallback))
    ctx["lang_codes"] = lang_codes  # per country
    ctx["lang_ids"] = np.array([langs[code] for code in lang_codes], dtype=np.int64)

    cr.execute("SELECT id FROM res_partner_industry WHERE active ORDER BY id FOR KEY SHARE")
    ctx["industries"] = np.array([r[0] for r in cr.fetchall()], dtype=np.int64)
    return ctx


# ---------------------------------------------------------------------------
# time helpers
# ---------------------------------------------------------------------------
def pick_users(rng, ctx, home):
    """A random salesperson (index in ctx["users"]) allowed in each row's
    company (index in ctx["companies"]); -1 where the company has none."""
    out = np.full(len(home), -1, dtype=np.int64)
    for ci in range(len(ctx["companies"])):
        cand = np.flatnonzero(ctx["allowed"][:, ci])
        sel = np.flatnonzero(home == ci)
        if len(cand) and len(sel):
            out[sel] = cand[rng.integers(0, len(cand), len(sel))]
    return out


def lock_refs(cr, ctx):
    """FOR KEY SHARE on every referenced row (what the foreign-key triggers
    would do), so none can be deleted before the load commits."""
    refs = [
        ("res_company", ctx["companies"]),
        ("res_users", ctx["users"]),
        ("crm_team", [t for t in np.unique(ctx["team_of"]) if t > 0]),
        ("crm_stage", list(ctx["pipeline"]) + [ctx["won_stage"]]),
        ("crm_lost_reason", ctx["lost_reasons"]),
        ("res_country", ctx["country_id"]),
        ("res_lang", ctx["lang_ids"]),
        ("res_partner_industry", ctx["industries"]),
    ]
    for table, ids in refs:
        ids = sorted({int(i) for i in ids})
        if not ids:
            continue
        cr.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) FOR KEY SHARE", (ids,))
        if cr.rowcount != len(ids):
            raise RuntimeError(f"{table}: referenced rows disappeared meanwhile")
