"""crm.interaction (crm_contact_center): interactions over the generated partners and deals."""

import sys
import time

import numpy as np

try:  # imported as bench.crmgen
    from .. import _db
    from .._db import Fixed, enc_text, enc_vocab, encode_rows, int_text
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    import _db
    from _db import Fixed, enc_text, enc_vocab, encode_rows, int_text
from .constants import DAY, PRODUCTS
from .context import pick_users
from .indexes import check_not_null, drop_fill_defaults, drop_indexes, set_fill_defaults
from .util import NS, copy_table, log, working_hours

# ---------------------------------------------------------------------------
# crm.interaction (crm_contact_center)
# ---------------------------------------------------------------------------
# channel code: (weight, share inbound, call-like, duration median s, subject prefix)
INTERACTION_CHANNELS = {
    "phone": (34, 0.6, True, 180, "Call"),
    "ip_phone": (6, 0.6, True, 240, "Call"),
    "email": (30, 0.5, False, 0, "E-mail"),
    "web": (7, 1.0, False, 0, "Web request"),
    "chat": (8, 0.9, False, 0, "Chat"),
    "social": (3, 0.9, False, 0, "Message"),
    "sms": (6, 0.3, False, 0, "SMS"),
    "meeting": (5, 0.0, False, 3600, "Meeting"),
    "survey": (1, 1.0, False, 0, "Survey answer"),
}


INTERACTION_STATES = ["new", "assigned", "in_progress", "done", "missed"]


INTERACTION_SOURCE_KEY = "bench.generate"


I_FIXED = [
    "id", "channel_id", "date", "duration", "partner_id", "commercial_partner_id", "lead_id",
    "user_id", "team_id", "company_id", "assign_date", "done_date", "sla_deadline",
    "is_overdue", "is_escalated", "rating_last_value",
    "create_date", "write_date", "create_uid", "write_uid",
]  # fmt: skip


I_TEXT = ["direction", "state", "subject", "body", "source_key", "external_id"]


def load_interaction_channels(cr, ctx):
    """Active channels shared by all companies (a company-specific channel would
    break check_company on the other companies' rows), locked FOR KEY SHARE."""
    cr.execute(
        "SELECT id, code, response_time_hours FROM crm_interaction_channel"
        " WHERE active AND company_id IS NULL AND code = ANY(%s) ORDER BY id FOR KEY SHARE",
        (list(INTERACTION_CHANNELS),),
    )
    rows = cr.fetchall()
    if not rows:
        sys.exit("crm_interaction_channel has no active shared channel with a known code")
    return rows


def generate_interactions(rng, args, ctx, P, D, channels, end):
    """The ``crm_interaction`` rows, as arrays (``X``), in date (= id) order.

    Two thirds of the interactions belong to a generated opportunity or lead
    with a partner (its contact, its company, its salesperson, dated within its
    life), the rest to a customer or contact alone (dated after its creation,
    customers weighted by a heavy-tailed activity). Channel mix, direction, state
    and duration follow ``INTERACTION_CHANNELS``: older requests are done (calls
    sometimes missed), the last week still has open ones; open inbound requests
    past their SLA deadline are flagged overdue and escalated, as the SLA cron
    does. About half carry ``source_key``/``external_id`` (as if logged by an
    integration, ``external_id`` = the row's id: unique by construction), the
    others are manual entries (both NULL, which the unique constraint allows).
    """
    K = args.interactions
    X = NS()
    X.n = K
    users = ctx["users"]
    nusers = len(users)
    # the owner: an opportunity/lead with a partner, or a partner alone
    with_partner = np.flatnonzero(D.partner >= 0) if D.n else np.zeros(0, np.int64)
    on_deal = rng.random(K) < (2 / 3 if len(with_partner) else 0.0)
    deal = np.where(on_deal, with_partner[rng.integers(0, max(len(with_partner), 1), K)]
                    if len(with_partner) else -1, -1)  # fmt: skip
    activity = rng.lognormal(0.0, 1.5, P.n)
    alone = rng.choice(P.n, K, p=activity / activity.sum())
    partner = np.where(on_deal, D.partner[np.maximum(deal, 0)] if D.n else alone, alone)
    ent = P.commercial[partner]
    # the date: within the deal's life (a week before its close at most), or after
    # the partner's creation; working hours
    born = np.where(on_deal, D.create[np.maximum(deal, 0)] if D.n else 0, P.create[partner])
    born = np.maximum(born, P.create[partner])
    until = np.where(
        on_deal, np.minimum(D.close[np.maximum(deal, 0)] + 7 * DAY, end) if D.n else end, end
    )
    until = np.maximum(until, born + 60)
    date = born + (until - born) * rng.random(K)
    date = working_hours(date, lo=born, hi=end - 1, rng=rng)
    order = np.argsort(date, kind="stable")
    date, partner, ent, deal, on_deal = (a[order] for a in (date, partner, ent, deal, on_deal))

    codes = [c for _, c, _ in channels]
    weights = np.array([INTERACTION_CHANNELS[c][0] for c in codes], dtype=np.float64)
    ch = rng.choice(len(codes), K, p=weights / weights.sum())
    inbound_share = np.array([INTERACTION_CHANNELS[c][1] for c in codes])[ch]
    inbound = rng.random(K) < inbound_share
    call = np.array([INTERACTION_CHANNELS[c][2] for c in codes])[ch]
    hours = np.array([h or 0 for _, _, h in channels], dtype=np.float64)[ch]

    # state: missed calls; the rest done, except recent requests
    recent = date > end - 7 * DAY
    missed = call & inbound & (rng.random(K) < 0.08)
    open_state = rng.choice([0, 1, 2], K, p=[0.3, 0.4, 0.3])  # new, assigned, in_progress
    open_ = recent & inbound & (rng.random(K) < 0.5) & ~missed
    state = np.where(missed, 4, np.where(open_, open_state, 3))
    median = np.array([INTERACTION_CHANNELS[c][3] for c in codes], dtype=np.float64)[ch]
    duration = np.where(
        (median > 0) & (state == 3), np.round(median * rng.lognormal(0.0, 0.7, K)), 0
    ).astype(np.int64)
    duration = np.where(
        np.array(codes)[ch] == "meeting", np.round(duration / 1800) * 1800, duration
    )

    # agent: the customer's salesperson (70 %) or another user of the company;
    # none for new requests; the team of that agent in the company
    home = P.home[ent]
    company = ctx["companies"][home]
    own = P.user[ent]
    agent = np.where((own >= 0) & (rng.random(K) < 0.7), own, pick_users(rng, ctx, home))
    deal_user = D.user[np.maximum(deal, 0)] if D.n else agent
    agent = np.where(on_deal & (deal_user >= 0), deal_user, agent)
    agent = np.where(state == 0, -1, agent)
    team = ctx["team_of"][np.where(agent >= 0, agent, nusers), home]

    X.channel = np.array([i for i, _, _ in channels], dtype=np.int64)[ch]
    X.channel_index = ch
    X.date, X.duration, X.state, X.inbound = date, duration, state, inbound
    X.partner, X.ent, X.deal, X.on_deal = partner, ent, deal, on_deal
    X.agent, X.team, X.company = agent, team, company
    X.assign = np.minimum(date + rng.integers(30, 3600, K), end)
    X.done = np.minimum(date + duration + rng.integers(0, 1800, K), end)
    sla = inbound & (hours > 0)
    X.sla_null = ~sla
    X.sla = date + hours * 3600
    X.overdue = sla & (state != 3) & (X.sla < end)
    X.write = np.maximum(np.where(state == 3, X.done, X.assign), date)
    X.product = rng.integers(0, len(PRODUCTS), K)
    X.has_body = rng.random(K) < 0.4
    X.api = rng.random(K) < 0.5
    return X


def interaction_chunks(X, P, ctx, codes, first_id, partner_first_id, lead_first_id, chunk):
    users = ctx["users"]
    admin = int(users[0])
    prefix = [INTERACTION_CHANNELS[c][4] for c in codes]
    # subject per (channel, product); body per product; the selections
    subjects = enc_vocab([f"{p}: {prod}" for p in prefix for prod in PRODUCTS])
    bodies = enc_vocab([f"<p>Customer asked about {prod.lower()}.</p>" for prod in PRODUCTS])
    directions = enc_vocab(["outbound", "inbound"])
    states = enc_vocab(INTERACTION_STATES)
    source_key = enc_vocab([INTERACTION_SOURCE_KEY])
    for a in range(0, X.n, chunk):
        s = slice(a, a + chunk)
        n = len(X.date[s])
        ids = first_id + a + np.arange(n)
        agent, state, deal = X.agent[s], X.state[s], X.deal[s]
        no_agent = agent < 0
        user_ids = users[np.maximum(agent, 0)]
        fixed = [
            Fixed.int4(ids),
            Fixed.int4(X.channel[s]),
            Fixed.timestamp(X.date[s]),
            Fixed.int4(X.duration[s]),
            Fixed.int4(partner_first_id + P.rank[X.partner[s]]),
            Fixed.int4(partner_first_id + P.rank[X.ent[s]]),
            Fixed.int4(
                lead_first_id + np.maximum(deal, 0) if lead_first_id else deal, null=~X.on_deal[s]
            ),  # fmt: skip
            Fixed.int4(user_ids, null=no_agent),
            Fixed.int4(X.team[s], null=X.team[s] < 0),
            Fixed.int4(X.company[s]),
            Fixed.timestamp(X.assign[s], null=no_agent),
            Fixed.timestamp(X.done[s], null=state != 3),
            Fixed.timestamp(X.sla[s], null=X.sla_null[s]),
            Fixed.bool(X.overdue[s]),
            Fixed.bool(X.overdue[s]),
            Fixed.float8(np.zeros(n)),
            Fixed.timestamp(X.date[s]),
            Fixed.timestamp(X.write[s]),
            Fixed.int4(np.where(no_agent, admin, user_ids)),
            Fixed.int4(np.where(no_agent, admin, user_ids)),
        ]
        api = X.api[s]
        texts = [
            directions[X.inbound[s].astype(np.int64)],
            states[state],
            subjects[X.channel_index[s] * len(PRODUCTS) + X.product[s]],
            bodies[np.where(X.has_body[s], X.product[s], -1)],
            source_key[np.where(api, 0, -1)],
            enc_text(int_text(ids), null=~api),
        ]
        yield encode_rows(fixed, texts, n)


def load_interactions(cr, args, ctx, P, D, partner_first_id, lead_first_id, end, rebuild, journal):
    """Generate and COPY the interactions (in the transaction of the leads);
    returns the dropped indexes to rebuild."""
    rng = np.random.default_rng(np.random.SeedSequence(args.seed).spawn(5)[4])
    channels = load_interaction_channels(cr, ctx)
    t = time.perf_counter()
    X = generate_interactions(rng, args, ctx, P, D, channels, end)
    states = np.bincount(X.state, minlength=len(INTERACTION_STATES))
    log(
        f"model: interactions {time.perf_counter() - t:.1f}s ("
        + ", ".join(f"{n} {s}" for s, n in zip(INTERACTION_STATES, states, strict=True))
        + f"; {int(X.on_deal.sum())} on an opportunity or lead)"
    )
    cols = I_FIXED + I_TEXT
    _null, i_fill = check_not_null(cr, "crm_interaction", set(cols))
    lock = "ACCESS EXCLUSIVE" if rebuild else "SHARE ROW EXCLUSIVE"
    cr.execute(f"LOCK TABLE crm_interaction IN {lock} MODE")
    dropped = drop_indexes(cr, "crm_interaction", journal, set(cols)) if rebuild else []
    first = _db.reserve_ids(cr, "crm_interaction", X.n)
    set_fill_defaults(cr, "crm_interaction", i_fill)
    codes = [c for _, c, _ in channels]
    copy_table(
        cr,
        "crm_interaction",
        cols,
        interaction_chunks(X, P, ctx, codes, first, partner_first_id, lead_first_id, args.chunk),
        f"(ids {first}..{first + X.n - 1})",
    )
    drop_fill_defaults(cr, "crm_interaction", i_fill)
    return first, dropped
