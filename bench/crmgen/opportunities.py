"""crm.lead: the purchase and dropout process per customer (BG/NBD style), opportunities and leads with their stored fields, encoded for binary COPY."""

import sys

import numpy as np

try:  # imported as bench.crmgen
    from .._db import Fixed, Multi, enc_text, enc_vocab, encode_rows, objects
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    from _db import Fixed, Multi, enc_text, enc_vocab, encode_rows, objects
from .constants import (
    COMPANY_A,
    COMPANY_B,
    COUNTRIES,
    CYCLE_MEDIAN_DAYS,
    CYCLE_SIGMA,
    DAY,
    DROP_BETA,
    FIRST_NAMES,
    FIRST_PROB,
    FUNCTIONS,
    LAST_NAMES,
    PRODUCTS,
    RATE_SHAPE,
    WIN_BETA,
)
from .context import pick_users
from .util import NS, lower, phone_numbers, working_hours


# ---------------------------------------------------------------------------
# opportunities and leads
# ---------------------------------------------------------------------------
def simulate(rng, lam, q, p, T, first_prob):
    """One run of the behavioural model for customers with opportunity rate
    ``lam`` (per day), win/dropout probabilities q/p, observed for T days.
    Returns (customer, offset days, won, cycle days, closed) of the
    opportunities kept, in customer then time order."""
    n = len(lam)
    first = rng.random(n) < first_prob
    more = rng.poisson(lam * T)
    cnt = first + more
    total = int(cnt.sum())
    acc = np.repeat(np.arange(n), cnt)
    gstart = np.cumsum(cnt) - cnt
    # the Poisson events are uniform on [0, T]; sorted per customer without a
    # sort: U_(j) = S_j / S_(k+1) with S the partial sums of k+1 exponentials
    e = np.cumsum(rng.standard_exponential(int(more.sum()) + n))
    ends = np.cumsum(more + 1) - 1
    base = np.concatenate([[0.0], e[ends[:-1]]])
    span = e[ends] - base
    s_idx = np.ones(len(e), bool)
    s_idx[ends] = False  # drop the (k+1)-th sum of each customer
    owner = np.repeat(np.arange(n), more)
    u = (e[s_idx] - base[owner]) / span[owner]
    off = np.zeros(total)
    is_first = np.zeros(total, bool)
    is_first[gstart[first]] = True
    off[~is_first] = u * T[owner]
    won = rng.random(total) < q[acc]
    cycle = np.minimum(rng.lognormal(np.log(CYCLE_MEDIAN_DAYS), CYCLE_SIGMA, total), 400.0)
    closed = off + cycle <= T[acc]
    # dropout right after a won deal: keep events up to the first dropout
    drop = (won & closed & (rng.random(total) < p[acc])).astype(np.int32)
    before = np.cumsum(drop) - drop
    base_drop = before[np.minimum(gstart, max(total - 1, 0))] if total else before
    kept = (before - np.repeat(base_drop, cnt)) == 0
    return acc[kept], off[kept], won[kept], cycle[kept], closed[kept]


def generate_opportunities(rng, args, ctx, P, start, end):
    M, L = args.opportunities, args.leads
    acc_p = P.accounts
    A = len(acc_p)
    birth = P.create[acc_p]
    T = np.maximum((end - birth) / DAY, 0.0)
    g = rng.gamma(RATE_SHAPE, 1.0, A)
    q = rng.beta(*WIN_BETA, A)
    p = rng.beta(*DROP_BETA, A)

    D = NS()
    if M and A:
        # calibrate the rate scale on a subsample (the expected count grows with s)
        sub = rng.choice(A, 50_000, replace=False) if A > 50_000 else np.arange(A)
        target_sub = M * len(sub) / A
        s = M / A / max(T.mean(), 1.0)
        for _ in range(12):
            c = len(simulate(rng, g[sub] * s, q[sub], p[sub], T[sub], FIRST_PROB)[0])
            if c == 0:
                s *= 4
                continue
            ratio = target_sub / c
            s *= ratio**1.3 if ratio > 1 else ratio
            if abs(ratio - 1) < 0.01:
                break
        for _ in range(8):
            acc, off, won, cycle, closed = simulate(rng, g * s * 1.02, q, p, T, FIRST_PROB)
            if len(acc) >= M:
                break
            s *= (M / max(len(acc), 1)) ** 1.5 * 1.05
        else:
            sys.exit(f"cannot draw {M} opportunities from {A} customers; use more --partners")
        keep = np.sort(rng.choice(len(acc), M, replace=False))  # uniform thinning to exactly M
        acc, off, won, cycle, closed = acc[keep], off[keep], won[keep], cycle[keep], closed[keep]
        D.rate_scale = s * 1.02
    else:
        acc = np.zeros(0, np.int64)
        off = cycle = np.zeros(0)
        won = closed = np.zeros(0, bool)
        D.rate_scale = 0.0
    create = birth[acc] + off * DAY
    first_ev = off == 0.0
    shaped = working_hours(create, lo=birth[acc], hi=end - 1, rng=rng)
    create = np.where(
        first_ev, np.minimum(birth[acc] + rng.integers(60, 1800, len(acc)), end - 1), shaped
    )
    planned = create + cycle * DAY
    closed &= planned <= end  # the working-hours shift may push a close past the end
    close = np.minimum(planned, end)
    status = np.where(~closed, 0, np.where(won, 1, 2))  # 0 open, 1 won, 2 lost
    D.won_per_customer = np.bincount(acc[won & closed], minlength=A)

    # the deal's contact: the company's contacts (70 %) or the company itself
    partner = acc_p[acc]
    cc = P.child_count[partner]
    use_child = (cc > 0) & (rng.random(len(acc)) < 0.7)
    child = P.child_start[partner] + (rng.random(len(acc)) * np.maximum(cc, 1)).astype(np.int64)
    partner = np.where(use_child, child, partner)

    # leads (type 'lead'): half existing partners, half anonymous prospects
    n_pros = L - L // 2
    D.n_prospects = min(max(n_pros, 1), 200_000)
    lead_partner = np.concatenate(
        [rng.integers(0, max(P.n, 1), L // 2), np.full(n_pros, -1, np.int64)]
    )
    lead_create = start + (end - start) * rng.random(L) ** 0.8
    lead_create = working_hours(lead_create, lo=start, hi=end - 1, rng=rng)
    has_p = lead_partner >= 0
    lead_create[has_p] = np.maximum(lead_create[has_p], P.create[lead_partner[has_p]] + 60)
    lead_create = np.minimum(lead_create, end - 1)
    old = lead_create < end - 45 * DAY
    lead_status = np.where(old & (rng.random(L) < 0.8), 2, 0)
    lead_close = lead_create + rng.random(L) * np.minimum(60 * DAY, end - lead_create)

    # all rows, in creation order
    R = M + L
    order = np.argsort(np.concatenate([create, lead_create]), kind="stable")
    D.n, D.M, D.L = R, M, L
    D.is_lead = np.concatenate([np.zeros(M, bool), np.ones(L, bool)])[order]
    D.create = np.concatenate([create, lead_create])[order]
    D.close = np.concatenate([close, lead_close])[order]
    planned = np.concatenate([planned, lead_close])[order]
    D.status = np.concatenate([status, lead_status])[order]
    D.partner = np.concatenate([partner, lead_partner])[order]  # kind index, -1 = prospect
    D.prospect = np.where(D.partner < 0, rng.integers(0, D.n_prospects, R), -1)
    closed = D.status != 0
    is_lead = D.is_lead

    # salesperson, company, team
    ent = np.where(D.partner >= 0, P.commercial[np.maximum(D.partner, 0)], -1)
    nusers = len(ctx["users"])
    home = np.where(ent >= 0, P.home[np.maximum(ent, 0)], rng.integers(0, len(ctx["companies"]), R))
    D.company = ctx["companies"][home]
    own_user = np.where(ent >= 0, P.user[np.maximum(ent, 0)], -1)  # allowed in home already
    sticky = (own_user >= 0) & (rng.random(R) < 0.85)
    user = np.where(sticky, own_user, pick_users(rng, ctx, home))
    user = np.where(is_lead & (rng.random(R) < 0.3), -1, user)  # unassigned leads
    D.user = user
    D.team = ctx["team_of"][np.where(user >= 0, user, nusers), home]

    # stages and probabilities
    pipe, pprob = ctx["pipeline"], ctx["pipeline_prob"]
    k = len(pipe)
    age_frac = np.clip((end - D.create) / np.maximum(planned - D.create, DAY), 0, 0.999)
    open_stage = np.minimum((age_frac * k).astype(np.int64), k - 1)
    lost_w = np.linspace(2.0, 1.0, k)
    st_idx = np.where(D.status == 2, rng.choice(k, R, p=lost_w / lost_w.sum()), open_stage)
    st_idx = np.where(is_lead, 0, st_idx)
    D.stage = np.where(D.status == 1, ctx["won_stage"], pipe[st_idx])
    prob = np.where(D.status == 1, 100.0, np.where(D.status == 2, 0.0, pprob[st_idx]))
    D.probability = np.where(is_lead & (D.status == 0), 10.0, prob)

    # revenue: customer size x deal noise, rounded to 100; 2 % zero; leads mostly 0
    size = np.where(
        P.is_company[np.maximum(ent, 0)],
        rng.lognormal(np.log(8000), 1.0, R),
        rng.lognormal(np.log(1500), 0.8, R),
    )
    size = np.where(ent >= 0, size, rng.lognormal(np.log(3000), 1.0, R))
    rev = np.round(size * rng.lognormal(0.0, 0.5, R) / 100.0) * 100.0
    rev = np.where((rng.random(R) < 0.02) | (is_lead & (rng.random(R) < 0.7)), 0.0, rev)
    D.revenue = np.minimum(rev, 1e11).astype(np.int64)
    D.prorated = D.revenue * D.probability.astype(np.int64) // 100

    # dates
    D.date_open = np.minimum(
        D.create + np.where(rng.random(R) < 0.8, 0, rng.integers(60, 3 * 86400, R)), end
    )
    lsu_closed = np.where(D.status == 1, D.close, D.create + (D.close - D.create) * rng.random(R))
    lsu_open = D.create + (end - D.create) * rng.random(R) * ~is_lead
    D.last_stage = np.where(closed, lsu_closed, lsu_open)
    write = np.where(
        closed, D.close, np.minimum(D.last_stage + (end - D.last_stage) * rng.random(R), end)
    )
    D.write = np.maximum(write, D.create)
    D.conversion = np.minimum(
        D.create + rng.integers(600, 3 * 86400, R), np.where(closed, D.close, end)
    )
    D.conversion_null = is_lead | (rng.random(R) >= 0.4)
    D.deadline = D.create + rng.lognormal(np.log(30), 0.6, R) * DAY
    D.deadline_null = is_lead | (rng.random(R) < 0.4)
    D.day_open = np.floor((D.date_open - D.create) / DAY)
    D.day_close = np.floor((D.close - D.create) / DAY)
    D.priority = rng.choice(4, R, p=[0.6, 0.25, 0.1, 0.05])
    D.product = rng.integers(0, len(PRODUCTS), R)
    nlr = len(ctx["lost_reasons"])
    D.lost_reason = ctx["lost_reasons"][rng.integers(0, nlr, R)] if nlr else np.zeros(R, np.int64)
    D.lost_reason_null = (D.status != 2) | (rng.random(R) >= 0.85) | (nlr == 0)
    return D


BLOB_FIXED = ["country_id", "lang_id"]


BLOB_TEXT = [
    "contact_name",
    "partner_name",
    "function",
    "email_from",
    "email_normalized",
    "email_domain_criterion",
    "email_state",
    "phone",
    "phone_sanitized",
    "phone_state",
    "mobile",
    "website",
    "street",
    "zip",
    "city",
]


def lead_blobs(rng, P, ctx, n_prospects, cols):
    """Per partner, then per prospect: the encoded values of the lead columns
    the ORM computes from ``partner_id`` (one bytes object each, see
    ``encode_rows(header=False)``). Returns (blobs, their column names)."""
    fixed_cols = [c for c in BLOB_FIXED if c in cols]
    text_cols = [c for c in BLOB_TEXT if c in cols]
    correct = enc_vocab(["correct"])

    def build(n, v):
        fixed = {
            "country_id": lambda: Fixed.int4(ctx["country_id"][v["country"]]),
            "lang_id": lambda: Fixed.int4(v["lang_id"], null=v["lang_null"]),
        }
        texts = {
            "contact_name": lambda: enc_text(v["contact_name"], null=v["contact_null"]),
            "partner_name": lambda: enc_text(v["partner_name"], null=v["partner_null"]),
            "function": lambda: enc_vocab(FUNCTIONS)[v["function"]],
            "email_from": lambda: enc_text(v["email"], null=v["email_null"]),
            "email_domain_criterion": lambda: enc_text(v["crit"], null=v["email_null"]),
            "email_state": lambda: correct[np.where(v["email_null"], -1, 0)],
            "phone": lambda: enc_text(v["phone"], null=v["phone_null"]),
            "phone_sanitized": lambda: enc_text(v["sanitized"], null=v["sanitized_null"]),
            "phone_state": lambda: correct[np.where(v["phone_null"], -1, 0)],
            "mobile": lambda: enc_text(v["mobile"], null=v["mobile_null"]),
            "website": lambda: enc_text(v["website"], null=v["website_null"]),
            "street": lambda: enc_text(v["street"], null=v["address_null"]),
            "zip": lambda: enc_vocab(P.zips)[np.where(v["address_null"], -1, v["city"])],
            "city": lambda: enc_vocab(P.cities)[np.where(v["address_null"], -1, v["city"])],
        }
        built = {}
        for c in text_cols:
            key = "email_from" if c == "email_normalized" else c
            if key not in built:
                built[key] = texts[key]()
            built[c] = built[key]
        return encode_rows(
            [fixed[c]() for c in fixed_cols], [built[c] for c in text_cols], n, header=False
        )

    N = P.n
    partners = build(
        N,
        {
            "country": P.country,
            "lang_id": ctx["lang_ids"][P.country],
            "lang_null": None,
            "contact_name": P.name,
            "contact_null": P.is_company,
            # partner_name: parent's name, or own name for a company, else nothing
            "partner_name": P.company_name[P.commercial],
            "partner_null": ~P.is_company[P.commercial],
            "function": P.function,
            "email": P.email,
            "email_null": P.email_null,
            "crit": P.domain_criterion,
            "phone": P.phone,
            "phone_null": P.phone_null,
            "sanitized": P.sanitized,
            "sanitized_null": P.sanitized_null,
            "mobile": P.mobile,
            "mobile_null": P.mobile_null,
            "website": P.website,
            "website_null": ~P.is_company,
            "street": P.street,
            "address_null": P.address_null,
            "city": P.city,
        },
    )

    # anonymous prospects (leads without partner): web-form style, no address
    n = n_prospects
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    wa = rng.integers(0, len(COMPANY_A), n)
    wb = rng.integers(0, len(COMPANY_B), n)
    cw = np.array([c[1] for c in COUNTRIES], dtype=np.float64)
    country = rng.choice(len(COUNTRIES), n, p=cw / cw.sum())
    domain = lower(COMPANY_A)[wa] + lower(COMPANY_B)[wb] + b".test"
    email = lower(FIRST_NAMES)[first] + b"." + lower(LAST_NAMES)[last] + b"@" + domain
    phone, e164 = phone_numbers(rng, country, mobile=False)
    phone_null = rng.random(n) < 0.5
    none = np.ones(n, bool)
    prospects = build(
        n,
        {
            "country": country,
            "lang_id": np.zeros(n, np.int64),
            "lang_null": none,
            "contact_name": objects(FIRST_NAMES)[first] + b" " + objects(LAST_NAMES)[last],
            "contact_null": np.zeros(n, bool),
            "partner_name": objects(COMPANY_A)[wa] + b" " + objects(COMPANY_B)[wb],
            "partner_null": rng.random(n) < 0.3,
            "function": np.where(rng.random(n) < 0.3, rng.integers(0, len(FUNCTIONS), n), -1),
            "email": email,
            "email_null": np.zeros(n, bool),
            "crit": b"@" + domain,
            "phone": phone,
            "phone_null": phone_null,
            "sanitized": e164,
            "sanitized_null": phone_null,
            "mobile": phone,
            "mobile_null": none,
            "website": phone,
            "website_null": none,
            "street": phone,
            "address_null": none,
            "city": np.zeros(n, np.int64),
        },
    )
    blobs = np.concatenate([partners, prospects])
    return Multi.of(blobs, len(fixed_cols) + len(text_cols)), fixed_cols + text_cols


L_FIXED = [
    "id",
    "partner_id",
    "user_id",
    "team_id",
    "company_id",
    "stage_id",
    "color",
    "active",
    "probability",
    "automated_probability",
    "expected_revenue",
    "prorated_revenue",
    "recurring_revenue",
    "recurring_revenue_monthly",
    "recurring_revenue_monthly_prorated",
    "recurring_revenue_prorated",
    "date_open",
    "date_closed",
    "date_last_stage_update",
    "date_conversion",
    "date_deadline",
    "day_open",
    "day_close",
    "lost_reason_id",
    "message_bounce",
    "create_date",
    "write_date",
    "create_uid",
    "write_uid",
]


L_TEXT = ["name", "type", "priority"]


def lead_columns(cols):
    fixed = [c for c in L_FIXED if c in cols]
    text = [c for c in L_TEXT if c in cols]
    return fixed, text


def _lead_fixed(D, P, ctx, first_id, partner_first_id, a, s, n):
    """Fixed-width crm_lead fields of rows ``s`` (ids first_id + a ...)."""
    users = ctx["users"]
    admin = int(users[0])
    status, user, partner = D.status[s], D.user[s], D.partner[s]
    closed = status != 0
    no_user = user < 0
    return {
        "id": lambda: Fixed.int4(first_id + a + np.arange(n)),
        "partner_id": lambda: Fixed.int4(
            partner_first_id + P.rank[np.maximum(partner, 0)], null=partner < 0
        ),
        "user_id": lambda: Fixed.int4(users[np.maximum(user, 0)], null=no_user),
        "team_id": lambda: Fixed.int4(D.team[s], null=D.team[s] < 0),
        "company_id": lambda: Fixed.int4(D.company[s]),
        "stage_id": lambda: Fixed.int4(D.stage[s]),
        "color": lambda: Fixed.int4(np.zeros(n)),
        "active": lambda: Fixed.bool(status != 2),
        "probability": lambda: Fixed.float8(D.probability[s]),
        "automated_probability": lambda: Fixed.float8(D.probability[s]),
        "expected_revenue": lambda: Fixed.numeric_int(D.revenue[s]),
        "prorated_revenue": lambda: Fixed.numeric_int(D.prorated[s]),
        "recurring_revenue": lambda: Fixed.numeric_zero(n),
        "recurring_revenue_monthly": lambda: Fixed.numeric_zero(n),
        "recurring_revenue_monthly_prorated": lambda: Fixed.numeric_zero(n),
        "recurring_revenue_prorated": lambda: Fixed.numeric_zero(n),
        "date_open": lambda: Fixed.timestamp(D.date_open[s], null=no_user),
        "date_closed": lambda: Fixed.timestamp(D.close[s], null=~closed),
        "date_last_stage_update": lambda: Fixed.timestamp(D.last_stage[s]),
        "date_conversion": lambda: Fixed.timestamp(D.conversion[s], null=D.conversion_null[s]),
        "date_deadline": lambda: Fixed.date(D.deadline[s], null=D.deadline_null[s]),
        "day_open": lambda: Fixed.float8(D.day_open[s], null=no_user),
        "day_close": lambda: Fixed.float8(D.day_close[s], null=~closed),
        "lost_reason_id": lambda: Fixed.int4(D.lost_reason[s], null=D.lost_reason_null[s]),
        "message_bounce": lambda: Fixed.int4(np.zeros(n)),
        "create_date": lambda: Fixed.timestamp(D.create[s]),
        "write_date": lambda: Fixed.timestamp(D.write[s]),
        "create_uid": lambda: Fixed.int4(np.where(no_user, admin, users[np.maximum(user, 0)])),
        "write_uid": lambda: Fixed.int4(np.where(no_user, admin, users[np.maximum(user, 0)])),
    }


def lead_chunks(D, P, ctx, first_id, partner_first_id, fixed_cols, text_cols, blobs, chunk):
    # name, type, priority of every (product, lead?, priority) combination
    combos = []
    for prod in PRODUCTS:
        for lead in (0, 1):
            for prio in range(4):
                vals = {
                    "name": f"{prod} request" if lead else prod,
                    "type": "lead" if lead else "opportunity",
                    "priority": str(prio),
                }
                combos.append(b"".join(enc_vocab([vals[c]])[0] for c in text_cols))
    combos = Multi.of(objects(combos), len(text_cols))
    for a in range(0, D.n, chunk):
        s = slice(a, a + chunk)
        n = len(D.create[s])
        f = _lead_fixed(D, P, ctx, first_id, partner_first_id, a, s, n)
        partner = D.partner[s]
        combo = (D.product[s] * 2 + D.is_lead[s]) * 4 + D.priority[s]
        bidx = np.where(partner >= 0, partner, P.n + np.maximum(D.prospect[s], 0))
        texts = ([combos[combo]] if text_cols else []) + [blobs[bidx]]
        yield encode_rows([f[c]() for c in fixed_cols], texts, n)
