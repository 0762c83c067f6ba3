"""res.partner: companies, their contacts and individuals, with every stored field the ORM maintains, encoded for binary COPY."""

import numpy as np

try:  # imported as bench.crmgen
    from .._db import NULL, Fixed, Multi, enc_text, enc_vocab, encode_rows, int_text, objects
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    from _db import NULL, Fixed, Multi, enc_text, enc_vocab, encode_rows, int_text, objects
from .constants import (
    COMPANY_A,
    COMPANY_B,
    COMPANY_SHARE,
    CONTACT_SHARE,
    COUNTRIES,
    FIRST_NAMES,
    FREEMAIL,
    FUNCTIONS,
    LAST_NAMES,
    STREETS,
)
from .context import pick_users
from .util import NS, lower, phone_numbers, working_hours


def generate_partners(rng, args, ctx, start, end):
    """The numeric partner columns, as arrays in *kind order* (companies,
    contacts, individuals); ``P.order`` maps id rank -> kind index, ``P.rank``
    back. The text columns come from ``partner_texts``."""
    N = args.partners
    P = NS()
    n_comp = int(round(N * COMPANY_SHARE)) if N >= 4 else 0
    n_cont = int(round((N - n_comp) * CONTACT_SHARE)) if n_comp else 0
    n_ind = N - n_comp - n_cont
    P.n, P.n_comp, P.n_cont, P.n_ind = N, n_comp, n_cont, n_ind
    kind = np.concatenate(
        [np.zeros(n_comp, np.int8), np.ones(n_cont, np.int8), np.full(n_ind, 2, np.int8)]
    )
    P.is_company, P.is_contact, P.is_individual = kind == 0, kind == 1, kind == 2
    is_comp, is_cont, is_ind = P.is_company, P.is_contact, P.is_individual
    span = end - start
    ar = np.arange(N)

    parent = np.full(N, -1, dtype=np.int64)
    if n_cont:
        # contacts spread over the companies with heavy-tailed weights; some have none
        w = rng.lognormal(0.0, 1.2, n_comp)
        parent[n_comp : n_comp + n_cont] = np.sort(rng.choice(n_comp, n_cont, p=w / w.sum()))
    P.parent = parent
    pp = np.where(parent >= 0, parent, ar)  # commercial entity (kind index)
    P.commercial = pp
    cw = np.array([c[1] for c in COUNTRIES], dtype=np.float64)
    P.country = rng.choice(len(COUNTRIES), N, p=cw / cw.sum())[pp]

    # create dates: customers grow over the span; contacts after their company
    create = start + span * rng.random(N) ** 0.75
    create[is_cont] = create[pp[is_cont]] + (end - create[pp[is_cont]]) * rng.random(n_cont) ** 4
    create = working_hours(create, hi=end - 60, rng=rng)
    create[is_cont] = np.maximum(create[is_cont], create[pp[is_cont]] + 60)
    P.create = np.minimum(create, end - 1)
    P.write = np.minimum(P.create + (end - P.create) * rng.random(N) ** 3, end)

    # ownership and commercial fields, inherited by the contacts
    home = rng.integers(0, len(ctx["companies"]), N)
    P.home = home[pp]  # index in ctx["companies"]
    P.company_null = (rng.random(N) >= 0.3)[pp]
    nusers = len(ctx["users"])
    salesperson = rng.random(N) < np.where(is_comp, 0.8, 0.6)
    P.user = np.where(salesperson, pick_users(rng, ctx, home), -1)[pp]
    nind = len(ctx["industries"])
    no_industry = is_ind | (rng.random(N) < 0.2) | (nind == 0)
    P.industry = np.where(no_industry, -1, rng.integers(0, max(nind, 1), N))[pp]
    arch = rng.random(N)
    P.active = ~((arch < 0.02) | (arch < 0.03)[pp])
    P.creator = rng.integers(0, nusers, N)

    # id order = creation order (a company before its contacts)
    P.order = np.argsort(P.create, kind="stable")
    P.rank = np.empty(N, dtype=np.int64)
    P.rank[P.order] = ar

    # customers (commercial entities) and their contacts
    P.accounts = np.flatnonzero(~is_cont)
    P.child_count = np.bincount(parent[is_cont], minlength=N) if n_cont else np.zeros(N, np.int64)
    P.child_start = np.cumsum(P.child_count) - P.child_count + n_comp
    return P


def partner_texts(rng, P):
    """Adds the text columns (object arrays of bytes) to ``P``."""
    N = P.n
    is_comp, is_cont, is_ind = P.is_company, P.is_contact, P.is_individual
    pp, country = P.commercial, P.country

    # names
    first = rng.integers(0, len(FIRST_NAMES), N)
    last = rng.integers(0, len(LAST_NAMES), N)
    wa = rng.integers(0, len(COMPANY_A), N)
    wb = rng.integers(0, len(COMPANY_B), N)
    suffixes = [s for c in COUNTRIES for s in c[4]]
    suffix_start = np.cumsum([0] + [len(c[4]) for c in COUNTRIES])[:-1]
    suffix_n = np.array([len(c[4]) for c in COUNTRIES])
    suffix = suffix_start[country] + (rng.random(N) * suffix_n[country]).astype(np.int64)
    company_name = (
        objects(COMPANY_A)[wa] + b" " + objects(COMPANY_B)[wb] + b" " + objects(suffixes)[suffix]
    )  # meaningful at company rows
    person_name = objects(FIRST_NAMES)[first] + b" " + objects(LAST_NAMES)[last]
    P.name = np.where(is_comp, company_name, person_name)
    P.company_name = company_name
    P.complete_name = np.where(is_cont, company_name[pp] + b", " + P.name, P.name)

    # domains and emails: company domains under the reserved .test TLD (RFC 2606)
    domain = lower(COMPANY_A)[wa] + lower(COMPANY_B)[wb] + b".test"
    free = objects(FREEMAIL)[rng.integers(0, len(FREEMAIL), N)]
    local = lower(FIRST_NAMES)[first] + b"." + lower(LAST_NAMES)[last]
    num = int_text(rng.integers(1, 10000, N))
    P.email = np.where(
        is_comp,
        b"info@" + domain,
        np.where(is_cont, local + b"@" + domain[pp], local + num + b"@" + free),
    )
    P.email_null = rng.random(N) < np.where(is_comp, 0.05, np.where(is_cont, 0.08, 0.15))
    # Odoo's email_domain_criterion: "@domain", or the whole address for mail providers
    P.domain_criterion = np.where(is_ind, P.email, b"@" + domain[pp])
    P.website = b"https://www." + domain

    # phones
    P.phone, phone_e164 = phone_numbers(rng, country, mobile=False)
    P.mobile, mobile_e164 = phone_numbers(rng, country, mobile=True)
    P.phone_null = rng.random(N) >= np.where(is_comp, 0.85, np.where(is_cont, 0.6, 0.7))
    P.mobile_null = is_comp | (rng.random(N) >= 0.35)
    # phone_sanitized: E.164 of the mobile, else of the phone (mail.thread.phone)
    P.sanitized = np.where(P.mobile_null, phone_e164, mobile_e164)
    P.sanitized_null = P.mobile_null & P.phone_null

    # address: own for companies and individuals, the company's for contacts
    P.cities = [ct for c in COUNTRIES for ct, _ in c[5]]
    P.zips = [z for c in COUNTRIES for _, z in c[5]]
    city_start = np.cumsum([0] + [len(c[5]) for c in COUNTRIES])[:-1]
    city_n = np.array([len(c[5]) for c in COUNTRIES])
    P.city = (city_start[country] + (rng.random(N) * city_n[country]).astype(np.int64))[pp]
    street = objects(STREETS)[rng.integers(0, len(STREETS), N)]
    P.street = (street + b" " + int_text(rng.integers(1, 250, N)))[pp]
    P.address_null = (rng.random(N) < 0.03)[pp]
    P.function = np.where(is_cont & (rng.random(N) >= 0.3), rng.integers(0, len(FUNCTIONS), N), -1)
    return P


# ---------------------------------------------------------------------------
# COPY producers: column lists (only columns the table has) and chunk encoders
# ---------------------------------------------------------------------------
P_FIXED = [
    "id",
    "is_company",
    "parent_id",
    "commercial_partner_id",
    "company_id",
    "user_id",
    "industry_id",
    "active",
    "country_id",
    "color",
    "employee",
    "partner_share",
    "message_bounce",
    "type",
    "calendar_last_notif_ack",
    "autopost_bills",
    "customer_rank",
    "supplier_rank",
    "create_date",
    "write_date",
    "create_uid",
    "write_uid",
]


P_TEXT = [
    "name",
    "complete_name",
    "commercial_company_name",
    "email",
    "email_normalized",
    "phone",
    "mobile",
    "phone_sanitized",
    "street",
    "website",
    "function",
    "lang_tz",
    "zip_city",
]


P_MULTI = {"lang_tz": ["lang", "tz"], "zip_city": ["zip", "city"]}


def partner_columns(cols):
    fixed = [c for c in P_FIXED if c in cols]
    texts, names = [], []
    for t in P_TEXT:
        sub = P_MULTI.get(t, [t])
        if all(c in cols for c in sub):
            texts.append(t)
            names.extend(sub)
    return fixed, texts, fixed + names


def _partner_fixed(P, ctx, won_any, first_id, a, k):
    """Fixed-width res_partner fields of the rows with kind indexes ``k``
    (ids first_id + a ...), as lazily built Fixed values."""
    users = ctx["users"]
    n = len(k)
    par, comm = P.parent[k], P.commercial[k]
    return {
        "id": lambda: Fixed.int4(first_id + a + np.arange(n)),
        "is_company": lambda: Fixed.bool(P.is_company[k]),
        "parent_id": lambda: Fixed.int4(first_id + P.rank[np.maximum(par, 0)], null=par < 0),
        "commercial_partner_id": lambda: Fixed.int4(first_id + P.rank[comm]),
        "company_id": lambda: Fixed.int4(ctx["companies"][P.home[k]], null=P.company_null[k]),
        "user_id": lambda: Fixed.int4(users[np.maximum(P.user[k], 0)], null=P.user[k] < 0),
        "industry_id": lambda: Fixed.int4(
            ctx["industries"][np.maximum(P.industry[k], 0)]
            if len(ctx["industries"])
            else np.zeros(n),
            null=P.industry[k] < 0,
        ),
        "active": lambda: Fixed.bool(P.active[k]),
        "country_id": lambda: Fixed.int4(ctx["country_id"][P.country[k]]),
        "color": lambda: Fixed.int4(np.zeros(n)),
        "employee": lambda: Fixed.bool(np.zeros(n, bool)),
        "partner_share": lambda: Fixed.bool(np.ones(n, bool)),
        "message_bounce": lambda: Fixed.int4(np.zeros(n)),
        "type": lambda: Fixed.const_text("contact", n),
        "calendar_last_notif_ack": lambda: Fixed.timestamp(P.create[k]),
        # account (through crm_retention_loyalty -> sale): NOT NULL, default "ask"
        "autopost_bills": lambda: Fixed.const_text("ask", n),
        "customer_rank": lambda: Fixed.int4(won_any[k]),
        "supplier_rank": lambda: Fixed.int4(np.zeros(n)),
        "create_date": lambda: Fixed.timestamp(P.create[k]),
        "write_date": lambda: Fixed.timestamp(P.write[k]),
        "create_uid": lambda: Fixed.int4(users[P.creator[k]]),
        "write_uid": lambda: Fixed.int4(users[P.creator[k]]),
    }


def partner_chunks(P, ctx, model, first_id, fixed_cols, text_cols, chunk):
    # per-partner encoded text columns (kind order), built once
    enc = {
        "name": lambda: enc_text(P.name),
        "complete_name": lambda: enc_text(P.complete_name),
        "commercial_company_name": lambda: enc_text(
            P.company_name[P.commercial], null=~P.is_company[P.commercial]
        ),
        "email": lambda: enc_text(P.email, null=P.email_null),
        "phone": lambda: enc_text(P.phone, null=P.phone_null),
        "mobile": lambda: enc_text(P.mobile, null=P.mobile_null),
        "phone_sanitized": lambda: enc_text(P.sanitized, null=P.sanitized_null),
        "street": lambda: enc_text(P.street, null=P.address_null),
        "website": lambda: enc_text(P.website, null=~P.is_company),
        "function": lambda: enc_vocab(FUNCTIONS)[P.function],
        "lang_tz": lambda: Multi.of(
            objects(
                [
                    a + b
                    for a, b in zip(
                        enc_vocab(ctx["lang_codes"])[:-1],
                        enc_vocab([c[3] for c in COUNTRIES])[:-1],
                        strict=True,
                    )
                ]
            )[P.country],
            2,
        ),
        "zip_city": lambda: Multi.of(
            np.where(
                P.address_null,
                NULL + NULL,
                objects(
                    [
                        a + b
                        for a, b in zip(
                            enc_vocab(P.zips)[:-1], enc_vocab(P.cities)[:-1], strict=True
                        )
                    ]
                )[P.city],
            ),
            2,
        ),
    }
    enc["email_normalized"] = enc["email"]
    cache = {}
    texts = []
    for t in text_cols:
        key = "email" if t == "email_normalized" else t
        if key not in cache:
            cache[key] = enc[key]()
        texts.append(cache[key])
    won_any = None
    if "customer_rank" in fixed_cols:
        won_any = np.zeros(P.n, bool)
        won_any[P.accounts] = model.get()[0].won_per_customer > 0
    for a in range(0, P.n, chunk):
        k = P.order[a : a + chunk]  # kind indexes of ids first_id + a ...
        n = len(k)
        f = _partner_fixed(P, ctx, won_any, first_id, a, k)
        yield encode_rows([f[c]() for c in fixed_cols], [t[k] for t in texts], n)
