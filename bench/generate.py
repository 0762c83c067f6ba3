#!/usr/bin/env python3
"""Synthetic CRM data for an existing Odoo 18 database, loaded with binary COPY.

What it generates
-----------------
* ``res.partner`` -- N partners: ~25 % companies (``is_company``), the rest
  contacts of those companies (``parent_id``, address, language, salesperson,
  industry and ``company_id`` inherited from the company, the way Odoo's
  commercial-field sync does) or private individuals. Every stored field the
  ORM maintains is filled consistently: ``commercial_partner_id`` (the company,
  or the partner itself), ``complete_name`` ("Company, Contact"),
  ``commercial_company_name``, ``email_normalized``, ``phone_sanitized`` (E.164
  of the mobile, else the phone, as phone_validation computes it; the numbers
  are valid for ``phonenumbers``), ``partner_share``, ``type='contact'``,
  ``lang`` (only languages active in the database), ``tz``, ``active`` (a few
  archived), ``create/write_date/uid``, ``calendar_last_notif_ack`` and, when
  the ``account`` module added them, ``customer_rank``/``supplier_rank``.
  ``display_name`` is not stored in Odoo 18. ``company_id`` is NULL (shared)
  for ~70 % of the customers, the customer's company otherwise.
* ``crm.lead`` -- M opportunities (``type='opportunity'``) plus ``--leads``
  leads (``type='lead'``, default 5 % of M), won, lost and open, ids in
  creation order. Won: a won stage (``crm_stage.is_won``), probability 100,
  ``date_closed``. Lost: ``active=False``, probability 0, ``lost_reason_id``
  (85 %) from the existing ``crm.lost.reason`` rows, ``date_closed``, stage
  where it was lost. Open: a pipeline stage and a stage-based probability.
  The partner-derived stored computes (``contact_name``, ``partner_name``,
  ``function``, ``email_from``, ``email_normalized``, ``email_domain_criterion``,
  ``email_state``, ``phone``, ``phone_sanitized``, ``phone_state``, ``mobile``,
  ``website``, address, ``country_id``, ``lang_id``) are copied from the partner
  as the ORM computes them; ``prorated_revenue``, ``automated_probability``,
  ``day_open``/``day_close``, ``date_open``, ``date_last_stage_update`` and the
  recurring-revenue columns (0) likewise. ``company_currency``, ``won_status``,
  ``kanban_state``, ``display_name`` are not stored in 18.0.
* ``--interactions K`` -- ``crm.interaction`` rows (crm_contact_center; exits
  with "crm_contact_center not installed" when the table is missing): two
  thirds on the generated opportunities and leads that have a partner (their
  contact, dated within the deal's life, the deal's salesperson), the rest on
  customers and contacts alone (heavy-tailed activity). Channels (the shared
  active ``crm_interaction_channel`` rows: phone 34 %, e-mail 30 %, chat,
  web, SMS, IP phone, meetings, social, survey), direction per channel,
  states (done; 8 % of inbound calls missed; half of the last week's inbound
  requests still new/assigned/in progress), durations (log-normal calls,
  meetings in half hours), ``commercial_partner_id``, agent and team,
  ``assign_date``/``done_date``, ``sla_deadline`` (inbound: date + the
  channel's response time), ``is_overdue``/``is_escalated`` (open past the
  deadline, as the SLA cron leaves them), ``rating_last_value`` 0. Half carry
  ``source_key = 'bench.generate'`` and ``external_id`` = the row id (unique
  by construction, so the UNIQUE(source_key, external_id) constraint holds
  across runs); the others are manual entries (both NULL). Loaded in the
  transaction of the leads, with the same index handling.

Behavioural model (opportunities)
---------------------------------
The customers are the commercial entities (companies and individuals). Each
one is "born" at its partner's ``create_date`` and, like the BG/NBD story
(Fader, Hardie & Lee 2005), gets
  * a latent opportunity rate  lambda ~ Gamma(shape 0.8) * s   (per year),
  * a win probability          q      ~ Beta(2.0, 2.5),
  * a dropout probability      p      ~ Beta(1.2, 3.5).
Its first opportunity comes at birth (90 % of customers); further ones follow
a Poisson process of rate lambda until the end date. Each opportunity is won
with probability q and closes after a log-normal sales cycle (median 24 days);
after each *won* deal the customer becomes inactive with probability p and
creates no more opportunities. The won deals thus follow a BG/NBD process with
rate lambda*q: some customers buy repeatedly, many once, some stop. Deals whose
cycle ends after ``--end-date`` are still open. The rate scale s is calibrated
on a subsample so that the simulation yields at least M opportunities, and a
uniform thinning keeps exactly M. Deal sizes are log-normal around a
per-customer size (companies larger), rounded to 100, 2 % are zero. A deal's
contact is the individual itself, or one of the company's contacts (70 %) or
the company; its salesperson is the customer's one (85 %) among the existing
internal users, with the team from ``crm.team.member`` (or the company's
first active team). Leads: half from existing partners, half anonymous
prospects; older ones are mostly lost. Creation times fall on working days and
hours.

How it loads
------------
Everything is generated with numpy and sent with ``COPY ... FROM STDIN (FORMAT
binary)``. ``_db.encode_rows`` builds the tuples without a Python loop per row:
fixed-width columns are big-endian numpy matrices grouped by NULL pattern, text
columns are object arrays of pre-encoded values (per-partner strings built
with vectorised object-array concatenation; the ~17 lead columns derived from
the partner are one pre-encoded blob per partner), and the rows are joined by
``bytes.join`` in C. Chunks of ``--chunk`` rows are produced by the main thread
while a second thread streams the previous one to the server; the opportunity
model is simulated in a third thread while the partners are copied. Ids come
from Odoo's own sequences (``_db.reserve_ids``: nextval/setval bump under a
table lock), in creation-date order, so later ORM creates do not collide.

Transactions. ``--index-jobs 1``: ONE transaction for everything (partners,
leads, index rebuild); any error leaves the database untouched (the reserved
ids are just skipped). ``--index-jobs J>1`` (default 2): one transaction per
table (partners, then leads; an error while loading the leads keeps the
committed partners), and the dropped indexes are rebuilt after each COMMIT by J
connections in parallel (CREATE INDEX on one table can run concurrently; the
partner indexes are rebuilt while the leads are copied).

Indexes. ``--index-mode rebuild`` (``auto`` picks it when the load is at least
a fifth of the table) drops the non-unique, non-constraint indexes of a table
before its COPY and recreates them from their ``pg_get_indexdef``; partial
indexes ``WHERE col IS NOT NULL`` on a column the load leaves NULL are kept.
With J>1 the definitions are journaled in table ``bench_generate_index_journal``
in the transaction that drops them; each rebuilt index deletes its row; the
rebuild runs in a ``finally``, and what a killed run left is restored at the
start of the next run or by ``--restore-indexes`` (``odoo -u crm`` would
recreate them too). The primary keys stay.

Foreign keys. As superuser the load runs with ``session_replication_role =
replica``, so the per-row foreign-key triggers do not fire (they would cost
more than the COPY). Integrity holds by construction: every reference is an id
read and locked FOR KEY SHARE in the same transaction, or an id the run
inserted; ``--verify-fk`` (default: loads under 200k rows) re-checks every
filled foreign key with SQL. Without superuser rights, or with user triggers on
a table, the triggers stay on. Sessions use ``synchronous_commit=off`` and
``--maintenance-work-mem``; the loaded tables are ANALYZEd at the end.

Usage
-----
    .venv/bin/python bench/generate.py -d gen_dev                     # 1000 / 5000
    .venv/bin/python bench/generate.py -d big --partners 1000000 --opportunities 5000000
    .venv/bin/python bench/generate.py -d mc --companies 3 --years 5 --end-date 2024-12-31 --seed 7
    PGHOST=/var/run/postgresql .venv/bin/python bench/generate.py -d db --dsn "user=odoo"
    .venv/bin/python bench/generate.py -d db --index-jobs 1          # single transaction
    .venv/bin/python bench/generate.py -d db --restore-indexes        # after a killed run

Measured (2-core VM shared with other jobs, load average 3-4; PostgreSQL 15,
shared_buffers 128MB; fresh database with crm and no demo data)
--------------------------------------------------------------------------------
    --partners 1000 --opportunities 5000 (+250 leads)           0.5-0.9 s
    --partners 100000 --opportunities 500000 --index-jobs 1     31 s
    --partners 1000000 --opportunities 5000000 (+250k leads)    289 s:
        partner model 6 s, partner COPY 23 s (381 MB), lead COPY 57 s
        (2.9 GB; starts after the opportunity model, ~20 s of which were not
        hidden behind the partner COPY), index rebuild 182 s (33 indexes,
        2 jobs; the two email trigram GIN indexes take ~60 s each), ANALYZE 3 s.
        CPU: generator 40 s, server 246 s (COPY 29 s, index builds 217 s).
The index rebuild is the bulk: Odoo 18 puts seven trigram GIN indexes on
crm_lead (name, contact_name, partner_name, email_from, email_normalized,
phone and mobile); see bench/README.md.
"""

import argparse
import datetime as dt
import re
import sys
import threading
import time

import numpy as np

try:  # imported as bench.generate
    from . import _db
    from ._db import NULL, Fixed, Multi, enc_text, enc_vocab, encode_rows, int_text, objects
except ImportError:  # run as a script
    import _db
    from _db import NULL, Fixed, Multi, enc_text, enc_vocab, encode_rows, int_text, objects

DAY = 86400.0
YEAR_DAYS = 365.25
JOURNAL = "bench_generate_index_journal"

# ---------------------------------------------------------------------------
# vocabularies (ASCII on purpose: lower() of the vocabulary = the email parts)
# ---------------------------------------------------------------------------
FIRST_NAMES = """Emma Liam Olivia Noah Ava Lucas Sophia Mason Mia Ethan Isabella Louis Chloe Hugo
Lea Jules Nina Adam Sarah Arthur Julia Gabriel Laura Leo Anna Paul Marie Thomas Eva Victor Clara
Max Lena Felix Hannah Finn Sofia Luca Giulia Marco Elena Pablo Lucia Diego Carmen Daniel Alice
Peter Kate James Grace Henry Ruby Jack Amelia Oscar Lily Samuel Zoe David Ella Martin Ines Tom
Rosa Jan Eline Bram Fleur Lars Anouk Sven Ida Karl Greta""".split()
LAST_NAMES = """Smith Johnson Martin Bernard Dubois Moreau Laurent Simon Michel Lefebvre Leroy
Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Peeters Janssens
Maes Jacobs Mertens Willems Claes Goossens Wouters DeVries Bakker Visser Smit Mulder Bos Rossi
Russo Ferrari Esposito Bianchi Romano Colombo Garcia Martinez Lopez Sanchez Perez Gomez Fernandez
Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Green Hall Wood Clarke Jackson
White Harris Lewis Young King Baker Adams Nelson Carter Mitchell Turner Parker Collins Murphy""".split()
COMPANY_A = """Blue Red Green Silver Golden Bright North South East West Prime Smart Rapid
Urban Alpine Coastal Global Royal Future Pixel Solid Clear Swift Noble Vertex Nova Apex Delta
Sigma Orion Atlas Lunar Solar Quantum Crystal Iron Oak Cedar Maple River Stone Harbor Summit""".split()
COMPANY_B = """Logistics Systems Foods Analytics Consulting Labs Works Motors Energy Design
Media Capital Health Pharma Robotics Textiles Metals Builders Networks Software Farms Studio
Partners Retail Brewing Marine Optics Printing Security Travel Dynamics Solutions Supply Tech""".split()
FUNCTIONS = """CEO|CFO|CTO|Buyer|Purchaser|Office Manager|Sales Manager|IT Manager|Accountant|
Project Manager|Consultant|Engineer|Director|Assistant|Owner""".replace("\n", "").split("|")
PRODUCTS = """Office furniture|Annual maintenance|ERP rollout|Cloud migration|Website redesign|
Support contract|Training days|Licence renewal|Server upgrade|Consulting|Warehouse racks|
Fleet leasing|Printer park|Security audit|Data analytics|Mobile app|Marketing campaign|
Catering|Coffee machines|Laptops|Network cabling|CRM setup|Payroll outsourcing|Solar panels|
Spare parts|Packaging|Translation|Event booth|Insurance|Cleaning services""".replace(
    "\n", ""
).split("|")
STREETS = """Main Street|Station Road|Church Lane|Market Square|Mill Road|Park Avenue|
Rue Royale|Avenue Louise|Rue du Midi|Kerkstraat|Stationsstraat|Dorpstraat|Hauptstrasse|
Bahnhofstrasse|Gartenweg|Via Roma|Calle Mayor|Gran Via|High Street|King Street|Elm Street|
Oak Avenue|Rue de la Paix|Boulevard Voltaire|Lindenallee|Herengracht|Corso Italia""".replace(
    "\n", ""
).split("|")
FREEMAIL = [
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "gmx.de",
    "orange.fr",
    "skynet.be",
    "libero.it",
]

# code, weight, languages by preference, tz, company suffixes, cities (name, zip),
# phone: country code, landline [(prefix, random digits)], mobile [(prefix, random digits)]
# fmt: off
COUNTRIES = [
    ("BE", 16, ("fr_BE", "nl_BE", "fr_FR", "nl_NL"), "Europe/Brussels", ("SA", "SRL", "BV", "NV"),
     [("Brussels", "1000"), ("Antwerp", "2000"), ("Ghent", "9000"), ("Liege", "4000"),
      ("Namur", "5000"), ("Leuven", "3000"), ("Bruges", "8000")],
     "32", [("2", 7)], [("47", 7)]),
    ("FR", 16, ("fr_FR",), "Europe/Paris", ("SA", "SARL", "SAS"),
     [("Paris", "75001"), ("Lyon", "69001"), ("Lille", "59000"), ("Nantes", "44000"),
      ("Bordeaux", "33000")],
     "33", [("1", 8)], [("61", 7)]),
    ("DE", 14, ("de_DE",), "Europe/Berlin", ("GmbH", "AG", "KG"),
     [("Berlin", "10115"), ("Hamburg", "20095"), ("Munich", "80331"), ("Cologne", "50667")],
     "49", [("30", 8)], [("151", 8)]),
    ("NL", 10, ("nl_NL",), "Europe/Amsterdam", ("BV", "NV"),
     [("Amsterdam", "1012"), ("Rotterdam", "3011"), ("Utrecht", "3511"), ("Eindhoven", "5611")],
     "31", [("20", 7)], [("61", 7)]),
    ("GB", 12, ("en_GB",), "Europe/London", ("Ltd", "PLC", "LLP"),
     [("London", "EC1A 1BB"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 1UR"), ("Bristol", "BS1 4DJ")],
     "44", [("207", 7)], [("791", 7)]),
    ("US", 20, ("en_US",), "America/New_York", ("Inc", "LLC", "Corp"),
     [("New York", "10001"), ("San Francisco", "94103"), ("Boston", "02108"), ("Chicago", "60601")],
     "1", [("212", 7), ("415", 7), ("617", 7)], [("212", 7), ("415", 7), ("617", 7)]),
    ("ES", 6, ("es_ES",), "Europe/Madrid", ("SL", "SA"),
     [("Madrid", "28001"), ("Barcelona", "08001"), ("Valencia", "46001"), ("Sevilla", "41001")],
     "34", [("91", 7)], [("6", 8)]),
    ("IT", 6, ("it_IT",), "Europe/Rome", ("Srl", "SpA"),
     [("Rome", "00118"), ("Milan", "20121"), ("Turin", "10121"), ("Naples", "80100")],
     "39", [("06", 8)], [("33", 8)]),
]
# fmt: on


# model parameters (see the module docstring)
COMPANY_SHARE = 0.25  # of the partners
CONTACT_SHARE = 0.60  # of the non-company partners: contacts of a company
RATE_SHAPE = 0.8  # Gamma shape of the opportunity rate
WIN_BETA = (2.0, 2.5)  # win probability q ~ Beta
DROP_BETA = (1.2, 3.5)  # dropout after a won deal p ~ Beta
FIRST_PROB = 0.9  # customer's first opportunity at its creation
CYCLE_MEDIAN_DAYS, CYCLE_SIGMA = 24.0, 0.8


class Background(threading.Thread):
    """Runs ``fn`` in a thread (numpy releases the GIL in its heavy loops);
    ``get()`` returns its result or re-raises its exception."""

    def __init__(self, fn):
        super().__init__(daemon=True, name="model")
        self.fn = fn
        self.result = self.exc = None
        self.done = False

    def run(self):
        if self.done:
            return
        try:
            self.result = self.fn()
        except BaseException as exc:
            self.exc = exc
        self.done = True

    def start(self):
        self.started = True
        super().start()

    def get(self):
        if getattr(self, "started", False):
            self.join()
        elif not self.done:
            self.run()
        if self.exc is not None:
            raise self.exc
        return self.result


def log(msg):
    print(msg, flush=True)


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


def working_hours(t, lo=None, hi=None, rng=None):
    """Move unix times onto Monday-Friday 08:00-18:00 (same or adjacent day),
    clipped to [lo, hi]."""
    day = np.floor(t / DAY)
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    day = day - (dow == 5) + (dow == 6)
    hours = 8 + 10 * rng.beta(2.0, 2.0, len(t))
    out = day * DAY + np.floor(hours * 3600)
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out


# ---------------------------------------------------------------------------
# partners
# ---------------------------------------------------------------------------
class NS:
    """Plain attribute namespace for the generated arrays."""


def lower(words):
    return objects([w.lower() for w in words])


def phone_numbers(rng, country, mobile):
    """(display, E.164) object arrays of numbers valid for ``phonenumbers``
    (phone_validation's check): "+32 2 5123456" / "+3225123456"."""
    n = len(country)
    disp_pref, e164_pref = [], []
    pref_index = np.zeros(n, dtype=np.int64)
    ndig = np.zeros(n, dtype=np.int64)
    for ci, c in enumerate(COUNTRIES):
        cc, prefs = c[6], (c[8] if mobile else c[7])
        sel = np.flatnonzero(country == ci)
        choice = rng.integers(0, len(prefs), len(sel))
        for pi, (prefix, nd) in enumerate(prefs):
            pref_index[sel[choice == pi]] = len(disp_pref)
            ndig[sel[choice == pi]] = nd
            disp_pref.append(f"+{cc} {prefix} ")
            e164_pref.append(f"+{cc}{prefix}")
    # random digits starting with 2..8 (0, 1 and 9 start invalid ranges in places)
    lo, hi = 2 * 10 ** (ndig - 1), 9 * 10 ** (ndig - 1)
    rest = int_text(lo + (rng.random(n) * (hi - lo)).astype(np.int64))
    return objects(disp_pref)[pref_index] + rest, objects(e164_pref)[pref_index] + rest


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


# ---------------------------------------------------------------------------
# indexes
# ---------------------------------------------------------------------------
def restore_journal(conn):
    """Recreate the indexes an interrupted run left dropped (journal table),
    then drop the journal. Returns the number of indexes restored."""
    cr = conn.cursor()
    if not _db.table_exists(cr, JOURNAL):
        conn.rollback()
        return 0
    cr.execute(f"SELECT name, tbl, def FROM {JOURNAL} ORDER BY tbl, name")
    rows = cr.fetchall()
    for name, tbl, definition in rows:
        cr.execute("SELECT to_regclass(%s) IS NULL", (name,))
        if cr.fetchone()[0]:
            log(f"  restoring index {name} on {tbl}")
            cr.execute(definition)
    cr.execute(f"DROP TABLE {JOURNAL}")
    conn.commit()
    return len(rows)


def drop_indexes(cr, table, journal, filled):
    """Drop the secondary indexes of ``table`` (recording them in the journal
    table, in the same transaction, when ``journal``); returns the list of
    (table, name, definition). Partial indexes ``WHERE col IS NOT NULL`` on a
    column the load leaves NULL stay: the new rows cost them nothing, while a
    rebuild would scan the whole table."""
    dropped = []
    if journal:
        cr.execute(
            f"CREATE TABLE IF NOT EXISTS {JOURNAL} (name text PRIMARY KEY, tbl text, def text, "
            "dropped timestamp DEFAULT now())"
        )
    for name, definition, predicate in _db.secondary_indexes(cr, table):
        m = re.fullmatch(r"\(*(\w+) IS NOT NULL\)*", predicate or "")
        if m and m.group(1) not in filled:
            continue
        if journal:
            cr.execute(
                f"INSERT INTO {JOURNAL} (name, tbl, def) VALUES (%s, %s, %s)",
                (name, table, definition),
            )
        cr.execute(f'DROP INDEX "{name}"')
        dropped.append((table, name, definition))
    return dropped


def index_cost(task, rows):
    """Rough relative build cost, to start the longest builds first."""
    table, _, definition = task
    d = definition.lower()
    weight = (
        12 if "gin_trgm_ops" in d else 6 if "using gin" in d else 2 if "regexp_replace" in d else 1
    )
    return weight * rows.get(table, 1)


class IndexBuilder:
    """Rebuilds dropped indexes with worker threads, one connection each,
    each CREATE INDEX committed on its own and struck from the journal;
    longest builds first. Tasks can be added while it runs."""

    def __init__(self, args):
        self.args = args
        self.todo = []
        self.rows = {}
        self.cond = threading.Condition()
        self.closed = False
        self.threads = []
        self.timings = []
        self.errors = []
        self.server_cpu = 0.0

    def add(self, tasks, rows):
        with self.cond:
            self.rows.update(rows)
            self.todo.extend(tasks)
            self.todo.sort(key=lambda t: index_cost(t, self.rows), reverse=True)
            self.cond.notify_all()

    def workers(self, k):
        while len(self.threads) < k:
            th = threading.Thread(target=self._work, name=f"index-{len(self.threads)}")
            th.start()
            self.threads.append(th)

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def join(self):
        self.close()
        for th in self.threads:
            th.join()
        if self.errors:
            name, exc = self.errors[0]
            raise RuntimeError(
                f"index rebuild failed: {name}: {exc} (definitions left in {JOURNAL}; "
                "rerun with --restore-indexes)"
            )
        return self.timings

    def _work(self):
        try:
            c = _db.connect(self.args.database, self.args.dsn, "bench-generate-index")
        except Exception as exc:
            self.errors.append(("connect", exc))
            return
        try:
            cr = c.cursor()
            cr.execute("SET maintenance_work_mem = %s", (self.args.maintenance_work_mem,))
            cr.execute("SET max_parallel_maintenance_workers = 0")
            cr.execute("SET synchronous_commit = off")
            c.commit()
            while True:
                with self.cond:
                    while not self.todo and not self.closed and not self.errors:
                        self.cond.wait()
                    if not self.todo or self.errors:
                        return
                    table, name, definition = self.todo.pop(0)
                t = time.perf_counter()
                try:
                    cr.execute("SELECT to_regclass(%s) IS NULL", (name,))
                    if cr.fetchone()[0]:
                        cr.execute(definition)
                    cr.execute(f"DELETE FROM {JOURNAL} WHERE name = %s", (name,))
                    c.commit()
                except Exception as exc:
                    c.rollback()
                    self.errors.append((name, exc))
                    return
                self.timings.append((table, name, time.perf_counter() - t))
        finally:
            self.server_cpu += _db.backend_cpu(c) or 0.0
            c.close()


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def check_not_null(cr, table, filled):
    """Columns left to their default (NULL) by the load, and values for the
    NOT NULL ones a module added without a database default.

    Such a column (``autopost_bills`` on res_partner once ``account`` is
    installed, before this script generated it) gets the value most
    existing rows hold: ``set_fill_defaults`` makes it a temporary column
    DEFAULT just before the table's COPY, in its transaction, and
    ``drop_fill_defaults`` removes it before the commit. Checked for every
    table before anything is loaded: without existing rows there is nothing
    to copy, so stop.
    """
    cols = _db.table_columns(cr, table)
    missing = [
        c for c, (_, notnull, hasdef) in cols.items() if notnull and not hasdef and c not in filled
    ]
    fill = {}
    for c in missing:
        cr.execute(
            f'SELECT "{c}" FROM {table} WHERE "{c}" IS NOT NULL '
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        row = cr.fetchone()
        if row is None:
            sys.exit(
                f"{table}: NOT NULL column {c!r} is not generated and no existing row shows "
                "a value for it (a module added it); extend bench/generate.py"
            )
        fill[c] = row[0]
    if fill:
        log(f"{table}: {', '.join(fill)} filled with the most common existing value")
    return [c for c in cols if c not in filled and c not in fill and c != "id"], fill


def set_fill_defaults(cr, table, fill):
    """Temporary column defaults for ``check_not_null``'s columns."""
    for c, value in fill.items():
        cr.execute(f'ALTER TABLE {table} ALTER COLUMN "{c}" SET DEFAULT %s', [value])


def drop_fill_defaults(cr, table, fill):
    """Remove the temporary defaults of ``set_fill_defaults`` (same transaction)."""
    for c in fill:
        cr.execute(f'ALTER TABLE {table} ALTER COLUMN "{c}" DROP DEFAULT')


def verify_fks(cr, table, filled, first, last):
    bad = []
    for con, col, ref, refcol in _db.foreign_keys(cr, table):
        if col not in filled:
            continue
        cr.execute(
            f'SELECT count(*) FROM {table} t WHERE t.id BETWEEN %s AND %s AND t."{col}" IS NOT NULL '
            f'AND NOT EXISTS (SELECT 1 FROM {ref} r WHERE r."{refcol}" = t."{col}")',
            (first, last),
        )
        n = cr.fetchone()[0]
        if n:
            bad.append(f"{con}: {n} rows")
    if bad:
        raise RuntimeError(f"{table}: foreign keys violated: {bad}")


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "-d", "--database", required=True, help="existing Odoo 18 database with crm installed"
    )
    ap.add_argument(
        "--dsn",
        default=None,
        help="libpq connection string (host/port/user...); PGHOST/PGPORT/PGUSER are honoured too",
    )
    ap.add_argument("--partners", type=int, default=1000, help="default %(default)s")
    ap.add_argument(
        "--opportunities",
        type=int,
        default=5000,
        help="crm.lead rows of type 'opportunity' (default %(default)s)",
    )
    ap.add_argument(
        "--leads", type=int, default=None, help="crm.lead rows of type 'lead' (default 5%% of M)"
    )
    ap.add_argument(
        "--years",
        type=float,
        default=3.0,
        help="span of the history, ending at --end-date (default %(default)s)",
    )
    ap.add_argument(
        "--end-date",
        default=None,
        help="YYYY-MM-DD (default: today): the history ends at the end of that day "
        "(23:59:59 UTC), or now for today",
    )
    ap.add_argument("--seed", type=int, default=42, help="default %(default)s")
    ap.add_argument("--company-id", type=int, default=1, help="main company (default 1)")
    ap.add_argument(
        "--companies",
        type=int,
        default=1,
        help="spread over the C first existing companies, --company-id first",
    )
    ap.add_argument(
        "--chunk", type=int, default=50_000, help="rows per COPY chunk (default %(default)s)"
    )
    ap.add_argument(
        "--interactions",
        type=int,
        default=0,
        help="crm.interaction rows (needs crm_contact_center; default %(default)s)",
    )
    ap.add_argument(
        "--index-mode",
        choices=["auto", "keep", "rebuild"],
        default="auto",
        help="drop & rebuild secondary indexes around the COPY (auto: when the load is >= 20%% "
        "of the existing rows)",
    )
    ap.add_argument(
        "--index-jobs",
        type=int,
        default=2,
        help="parallel index rebuilds after COMMIT; 1 = rebuild inside the load transaction",
    )
    ap.add_argument(
        "--maintenance-work-mem", default="512MB", help="for the index builds (default %(default)s)"
    )
    ap.add_argument(
        "--verify-fk",
        choices=["auto", "yes", "no"],
        default="auto",
        help="re-check filled foreign keys with SQL (auto: loads below 200k rows)",
    )
    ap.add_argument(
        "--restore-indexes",
        action="store_true",
        help="only restore indexes left dropped by a killed run, then exit",
    )
    args = ap.parse_args(argv)
    if args.leads is None:
        args.leads = args.opportunities // 20
    for opt in ("partners", "opportunities", "leads"):
        if getattr(args, opt) < 0:
            ap.error(f"--{opt} must be >= 0")
    for opt in ("chunk", "companies", "years"):
        if getattr(args, opt) <= 0:
            ap.error(f"--{opt} must be > 0")
    if args.opportunities + args.leads and not args.partners:
        ap.error("opportunities need --partners > 0")
    if args.interactions < 0:
        ap.error("--interactions must be >= 0")
    if args.interactions and not args.partners:
        ap.error("interactions need --partners > 0")
    return args


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


def copy_table(cr, table, columns, chunks, what):
    t = time.perf_counter()
    rows, nbytes, prod, wait = _db.copy_binary(cr, table, columns, chunks)
    el = time.perf_counter() - t
    log(
        f"{table}: COPY {rows} rows {what}, {nbytes / 1e6:.0f} MB in {el:.1f}s "
        f"(encoding {prod:.1f}s, encoder waiting on the server {wait:.1f}s)"
    )
    return el


def main(argv=None):
    args = parse_args(argv)
    t_all = time.perf_counter()
    conn = _db.connect(args.database, args.dsn, "bench-generate")
    cr = conn.cursor()
    cr.execute("SET synchronous_commit = off")
    cr.execute("SET maintenance_work_mem = %s", (args.maintenance_work_mem,))
    cr.execute("SET work_mem = '256MB'")
    conn.commit()
    n_restored = restore_journal(conn)
    if n_restored:
        log(f"restored {n_restored} index(es) left dropped by an interrupted run")
    if args.restore_indexes:
        return 0
    if not _db.table_exists(cr, "crm_lead"):
        sys.exit("crm is not installed in this database (no crm_lead table)")
    if args.interactions and not _db.table_exists(cr, "crm_interaction"):
        sys.exit(
            "crm_contact_center not installed: table crm_interaction does not exist "
            "(--interactions needs it)"
        )

    now = time.time()
    if args.end_date:
        end_day = dt.datetime.strptime(args.end_date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        is_today = end_day.date() == dt.datetime.now(dt.UTC).date()
        end = now if is_today else end_day.timestamp() + DAY - 1
    else:
        end = now
    end = float(np.floor(end))
    start = end - args.years * YEAR_DAYS * DAY
    atomic = args.index_jobs <= 1

    tables = ["res_partner", "crm_lead"] + (["crm_interaction"] if args.interactions else [])
    est = {}
    for tbl in tables:
        cr.execute(f"SELECT count(*) FROM (SELECT 1 FROM {tbl} LIMIT 100000) s")
        est[tbl] = cr.fetchone()[0]
        if est[tbl] == 100000:
            cr.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (tbl,))
            est[tbl] = max(est[tbl], cr.fetchone()[0])
    new_rows = {
        "res_partner": args.partners,
        "crm_lead": args.opportunities + args.leads,
        "crm_interaction": args.interactions,
    }
    rebuild = {
        t: args.index_mode == "rebuild"
        or (args.index_mode == "auto" and new_rows[t] >= 1000 and new_rows[t] >= 0.2 * est[t])
        for t in tables
    }
    superuser = _db.is_superuser(cr)
    triggers = {t: _db.user_triggers(cr, t) for t in tables}
    replica = superuser and not any(triggers.values())
    if replica:
        cr.execute("SET session_replication_role = replica")
    else:
        log(
            "note: foreign-key triggers stay on ("
            + ("user triggers present" if superuser else "not superuser")
            + "): slower load"
        )
    verify = args.verify_fk == "yes" or (
        args.verify_fk == "auto" and replica and sum(new_rows.values()) < 200_000
    )

    ctx = load_context(cr, args)
    lock_refs(cr, ctx)
    utc = dt.UTC
    log(
        f"database {args.database}: {est['res_partner']} partners, {est['crm_lead']} leads before; "
        f"salespeople {list(map(int, ctx['users']))}, companies {list(map(int, ctx['companies']))}, "
        f"won stage {ctx['won_stage']}, pipeline {list(map(int, ctx['pipeline']))}, "
        f"{len(ctx['lost_reasons'])} lost reasons"
    )
    log(
        f"history {dt.datetime.fromtimestamp(start, utc):%Y-%m-%d} .. "
        f"{dt.datetime.fromtimestamp(end, utc):%Y-%m-%d %H:%M} UTC, seed {args.seed}; indexes: "
        + ", ".join(f"{t} {'rebuild' if rebuild[t] else 'keep'}" for t in tables)
        + (
            " (rebuilt inside the transaction)"
            if atomic
            else f" (rebuilt by {args.index_jobs} jobs after commit)"
        )
        + f"; fk triggers {'off (replica)' if replica else 'on'}; verify fk {'yes' if verify else 'no'}; "
        + ("one transaction" if atomic else "one transaction per table")
    )

    p_fixed, p_texts, p_cols = partner_columns(_db.table_columns(cr, "res_partner"))
    l_all = _db.table_columns(cr, "crm_lead")
    l_fixed, l_texts = lead_columns(l_all)
    blob_cols = [c for c in BLOB_FIXED + BLOB_TEXT if c in l_all]
    l_cols = l_fixed + l_texts + blob_cols
    p_null, p_fill = check_not_null(cr, "res_partner", set(p_cols))
    l_null, l_fill = check_not_null(cr, "crm_lead", set(l_cols))

    # independent random streams: the result does not depend on thread timing
    seeds = np.random.SeedSequence(args.seed).spawn(4)
    rng_p, rng_t, rng_o, rng_b = (np.random.default_rng(s) for s in seeds)
    t = time.perf_counter()
    P = generate_partners(rng_p, args, ctx, start, end)
    texts_ready = threading.Event()

    def lead_model():
        t0 = time.perf_counter()
        D = generate_opportunities(rng_o, args, ctx, P, start, end)
        t1 = time.perf_counter()
        texts_ready.wait()
        blobs = lead_blobs(rng_b, P, ctx, D.n_prospects, l_all)[0] if D.n else None
        log(
            f"model: opportunities {t1 - t0:.1f}s (rate scale {D.rate_scale * YEAR_DAYS:.3g}/year), "
            f"partner-derived lead fields {time.perf_counter() - t1:.1f}s"
        )
        return D, blobs

    # the lead model is built while the partners are copied, unless the partners
    # need it (customer_rank, with the account module)
    model = Background(lead_model)
    if "customer_rank" not in p_fixed:
        model.start()
    partner_texts(rng_t, P)
    texts_ready.set()
    log(
        f"model: partners {time.perf_counter() - t:.1f}s ({P.n_comp} companies, {P.n_cont} contacts, "
        f"{P.n_ind} individuals)"
    )

    builder = None if atomic else IndexBuilder(args)
    dropped = []
    stage = "res_partner"
    try:
        # ---- partners
        lock = "ACCESS EXCLUSIVE" if rebuild["res_partner"] else "SHARE ROW EXCLUSIVE"
        cr.execute(f"LOCK TABLE res_partner IN {lock} MODE")
        if rebuild["res_partner"]:
            dropped += drop_indexes(cr, "res_partner", not atomic, set(p_cols))
        p_first = _db.reserve_ids(cr, "res_partner", P.n) if P.n else None
        set_fill_defaults(cr, "res_partner", p_fill)
        if P.n:
            copy_table(
                cr,
                "res_partner",
                p_cols,
                partner_chunks(P, ctx, model, p_first, p_fixed, p_texts, args.chunk),
                f"(ids {p_first}..{p_first + P.n - 1})",
            )
            if verify:
                verify_fks(cr, "res_partner", set(p_cols), p_first, p_first + P.n - 1)
        drop_fill_defaults(cr, "res_partner", p_fill)
        if not atomic:
            t = time.perf_counter()
            conn.commit()
            log(f"res_partner committed ({time.perf_counter() - t:.1f}s)")
            if dropped:
                builder.add(dropped, new_rows)
                builder.workers(1)  # the other core runs the lead COPY meanwhile
            lock_refs(cr, ctx)
        # ---- leads
        stage = "crm_lead"
        D, blobs = model.get()
        lock = "ACCESS EXCLUSIVE" if rebuild["crm_lead"] else "SHARE ROW EXCLUSIVE"
        cr.execute(f"LOCK TABLE crm_lead IN {lock} MODE")
        dropped_l = (
            drop_indexes(cr, "crm_lead", not atomic, set(l_cols)) if rebuild["crm_lead"] else []
        )
        l_first = _db.reserve_ids(cr, "crm_lead", D.n) if D.n else None
        set_fill_defaults(cr, "crm_lead", l_fill)
        if D.n:
            st = np.bincount(D.status[~D.is_lead], minlength=3)
            copy_table(
                cr,
                "crm_lead",
                l_cols,
                lead_chunks(D, P, ctx, l_first, p_first, l_fixed, l_texts, blobs, args.chunk),
                f"(ids {l_first}..{l_first + D.n - 1}; opportunities {D.M}: {st[1]} won, "
                f"{st[2]} lost, {st[0]} open; leads {D.L})",
            )
            if verify:
                verify_fks(cr, "crm_lead", set(l_cols), l_first, l_first + D.n - 1)
        drop_fill_defaults(cr, "crm_lead", l_fill)
        if args.interactions:
            stage = "crm_interaction"
            i_first, dropped_i = load_interactions(
                cr, args, ctx, P, D, p_first, l_first, end, rebuild["crm_interaction"], not atomic
            )
            dropped_l += dropped_i
            if verify:
                verify_fks(
                    cr, "crm_interaction", set(I_FIXED), i_first, i_first + args.interactions - 1
                )
        if verify:
            log("foreign keys verified")
        if atomic:
            dropped += dropped_l
            if dropped:
                t = time.perf_counter()
                for _t, _n, definition in sorted(
                    dropped, key=lambda d: index_cost(d, new_rows), reverse=True
                ):
                    cr.execute(definition)
                log(
                    f"rebuilt {len(dropped)} indexes in the transaction ({time.perf_counter() - t:.1f}s)"
                )
        t = time.perf_counter()
        conn.commit()
        log(f"{'all' if atomic else 'crm_lead'} committed ({time.perf_counter() - t:.1f}s)")
        if dropped_l and not atomic:
            builder.add(dropped_l, new_rows)
    except BaseException:
        conn.rollback()
        if atomic or stage == "res_partner":
            log("rolled back: nothing was loaded")
        else:
            log(f"rolled back {stage}; res_partner rows stay committed")
        raise
    finally:
        if builder is not None:
            t = time.perf_counter()
            builder.workers(args.index_jobs)
            timings = builder.join()
            if timings:
                el = time.perf_counter() - t
                slow = sorted(timings, key=lambda x: -x[2])[:4]
                log(
                    f"rebuilt {len(timings)} indexes with {args.index_jobs} jobs ({el:.1f}s after the last "
                    "commit); slowest: " + ", ".join(f"{n} {d:.0f}s" for _, n, d in slow)
                )
            cr2 = conn.cursor()
            if _db.table_exists(cr2, JOURNAL):
                cr2.execute(f"SELECT count(*) FROM {JOURNAL}")
                if cr2.fetchone()[0] == 0:
                    cr2.execute(f"DROP TABLE {JOURNAL}")
            conn.commit()
    t = time.perf_counter()
    conn.autocommit = True
    cr = conn.cursor()
    cr.execute("ANALYZE res_partner")
    cr.execute("ANALYZE crm_lead")
    if args.interactions:
        cr.execute("ANALYZE crm_interaction")
    log(f"analyzed ({time.perf_counter() - t:.1f}s)")
    cpu_main = _db.backend_cpu(conn)
    if cpu_main is not None:
        idx_cpu = builder.server_cpu if builder is not None else 0.0
        log(
            f"CPU time: generator {time.process_time():.0f}s, server {cpu_main + idx_cpu:.0f}s "
            f"(COPY session {cpu_main:.0f}s, index jobs {idx_cpu:.0f}s)"
        )
    log(f"left NULL (not generated): res_partner {', '.join(p_null)}; crm_lead {', '.join(l_null)}")
    conn.close()
    log(f"total {time.perf_counter() - t_all:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
