"""sale.order: each customer's purchases as confirmed sale orders (the same
BG/NBD style process as the opportunities: a purchase rate per customer, a
dropout chance after each purchase), encoded for binary COPY.

What the suite reads of an order (crm_retention_sale's deal source) is
filled as the ORM would: ``state`` (97 % confirmed, 3 % cancelled),
``date_order``, ``amount_untaxed`` (= ``amount_total``, no taxes), the
company and its currency, the customer's salesperson and team, the
customer as ``partner_id`` (invoice and delivery address too). The
customers are those the database holds (``read_customers``), so orders can
be added to a database generated before (``--partners 0 --opportunities 0
--orders N``). Orders have no lines: the deal source reads the order's
amounts, and a line per order would triple the load for nothing measured.
"""

import time

import numpy as np

try:  # imported as bench.crmgen
    from .. import _db
    from .._db import Fixed, enc_text, enc_vocab, encode_rows, int_text
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    import _db
    from _db import Fixed, enc_text, enc_vocab, encode_rows, int_text
from .constants import DAY, DROP_BETA, RATE_SHAPE
from .indexes import check_not_null, drop_fill_defaults, drop_indexes, set_fill_defaults
from .opportunities import simulate
from .util import NS, copy_table, log, working_hours

O_FIXED = [
    "id",
    "partner_id",
    "partner_invoice_id",
    "partner_shipping_id",
    "company_id",
    "currency_id",
    "user_id",
    "team_id",
    "date_order",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "locked",
    "create_date",
    "write_date",
    "create_uid",
    "write_uid",
]
O_TEXT = ["name", "state", "picking_policy", "invoice_status"]


def order_columns(cols):
    return [c for c in O_FIXED if c in cols], [c for c in O_TEXT if c in cols]


CUSTOMERS_SQL = """
SELECT p.id, extract(epoch FROM p.create_date), p.is_company,
       COALESCE(p.company_id, %(main)s), COALESCE(p.user_id, 0)
  FROM res_partner p
 WHERE p.id = p.commercial_partner_id AND p.active
   AND (p.company_id IS NULL OR p.company_id = ANY(%(companies)s))
   AND NOT EXISTS (SELECT 1 FROM res_users u WHERE u.partner_id = p.id)
   AND NOT EXISTS (SELECT 1 FROM res_company c WHERE c.partner_id = p.id)
 ORDER BY p.id
"""


def read_customers(cr, ctx):
    """The customers the database holds (commercial partners, not a user's
    or a company's own): ids, creation (unix), company kind, company and
    salesperson indexes in ``ctx``."""
    companies = [int(c) for c in ctx["companies"]]
    cr.execute(CUSTOMERS_SQL, {"main": companies[0], "companies": companies})
    rows = cr.fetchall()
    C = NS()
    C.id = np.array([r[0] for r in rows], dtype=np.int64)
    C.create = np.array([float(r[1]) for r in rows])
    C.is_company = np.array([r[2] for r in rows], dtype=bool)
    index = {c: i for i, c in enumerate(companies)}
    C.home = np.array([index[r[3]] for r in rows], dtype=np.int64)
    users = {int(u): i for i, u in enumerate(ctx["users"])}
    C.user = np.array([users.get(r[4], -1) for r in rows], dtype=np.int64)
    return C


def generate_orders(rng, N, ctx, C, end):
    """Exactly ``N`` orders over the customers ``C`` (``read_customers``),
    from their creation to ``end``."""
    A = len(C.id)
    if not A:
        raise SystemExit("no customers to give orders to: generate partners first")
    birth = np.minimum(C.create, end - DAY)
    T = np.maximum((end - birth) / DAY, 0.0)
    g = rng.gamma(RATE_SHAPE, 1.0, A)
    p = rng.beta(*DROP_BETA, A)
    always = np.ones(A)
    s = N / A / max(T.mean(), 1.0)
    for _ in range(20):
        acc, off = simulate(rng, g * s, always, p, T, 1.0)[:2]
        if len(acc) >= N:
            break
        s *= (N / max(len(acc), 1)) ** 1.3 * 1.05
    else:
        raise SystemExit(f"cannot draw {N} orders from {A} customers; use more --partners")
    keep = np.sort(rng.choice(len(acc), N, replace=False))
    acc, off = acc[keep], off[keep]
    orders = NS()
    orders.n = N
    when = working_hours(birth[acc] + off * DAY, lo=birth[acc], hi=end - 1, rng=rng)
    order = np.argsort(when, kind="stable")
    acc, orders.date = acc[order], when[order]
    orders.partner = C.id[acc]
    home = C.home[acc]
    orders.company = ctx["companies"][home]
    orders.currency = ctx["company_currency"][home]
    orders.user = C.user[acc]
    nusers = len(ctx["users"])
    orders.team = ctx["team_of"][np.where(orders.user >= 0, orders.user, nusers), home]
    size = np.where(
        C.is_company[acc],
        rng.lognormal(np.log(2500), 0.9, N),
        rng.lognormal(np.log(300), 0.7, N),
    )
    orders.amount = np.maximum(np.round(size * rng.lognormal(0.0, 0.4, N)), 1).astype(np.int64)
    orders.cancelled = rng.random(N) < 0.03
    return orders


def load_orders(cr, args, ctx, end, rebuild, journal):
    """Generate and COPY ``args.orders`` sale orders for the customers the
    database holds (in the load's transaction); returns the dropped indexes
    to rebuild."""
    rng = np.random.default_rng(np.random.SeedSequence(args.seed).spawn(6)[5])
    t = time.perf_counter()
    C = read_customers(cr, ctx)
    orders = generate_orders(rng, args.orders, ctx, C, end)
    log(
        f"model: sale orders {time.perf_counter() - t:.1f}s ({len(C.id)} customers, "
        f"{int(orders.cancelled.sum())} cancelled)"
    )
    fixed_cols, text_cols = order_columns(_db.table_columns(cr, "sale_order"))
    _null, fill = check_not_null(cr, "sale_order", set(fixed_cols + text_cols))
    lock = "ACCESS EXCLUSIVE" if rebuild else "SHARE ROW EXCLUSIVE"
    cr.execute(f"LOCK TABLE sale_order IN {lock} MODE")
    dropped = (
        drop_indexes(cr, "sale_order", journal, set(fixed_cols + text_cols)) if rebuild else []
    )
    first = _db.reserve_ids(cr, "sale_order", orders.n)
    set_fill_defaults(cr, "sale_order", fill)
    copy_table(
        cr,
        "sale_order",
        fixed_cols + text_cols,
        order_chunks(orders, ctx, first, fixed_cols, text_cols, args.chunk),
        f"(ids {first}..{first + orders.n - 1})",
    )
    drop_fill_defaults(cr, "sale_order", fill)
    return first, dropped


def _order_fields(orders, ctx, ids, s, n):
    """Encoded values of the columns of rows ``s`` (ids ``ids``), by name."""
    admin = int(ctx["users"][0])
    partner, user, amount = orders.partner[s], orders.user[s], orders.amount[s]
    uid = np.where(user >= 0, ctx["users"][np.maximum(user, 0)], admin)
    cancelled = orders.cancelled[s].astype(np.int64)
    fixed = {
        "id": lambda: Fixed.int4(ids),
        "partner_id": lambda: Fixed.int4(partner),
        "partner_invoice_id": lambda: Fixed.int4(partner),
        "partner_shipping_id": lambda: Fixed.int4(partner),
        "company_id": lambda: Fixed.int4(orders.company[s]),
        "currency_id": lambda: Fixed.int4(orders.currency[s]),
        "user_id": lambda: Fixed.int4(ctx["users"][np.maximum(user, 0)], null=user < 0),
        "team_id": lambda: Fixed.int4(orders.team[s], null=orders.team[s] < 0),
        "date_order": lambda: Fixed.timestamp(orders.date[s]),
        "amount_untaxed": lambda: Fixed.numeric_int(amount),
        "amount_tax": lambda: Fixed.numeric_zero(n),
        "amount_total": lambda: Fixed.numeric_int(amount),
        "locked": lambda: Fixed.bool(np.zeros(n, bool)),
        "create_date": lambda: Fixed.timestamp(orders.date[s]),
        "write_date": lambda: Fixed.timestamp(orders.date[s]),
        "create_uid": lambda: Fixed.int4(uid),
        "write_uid": lambda: Fixed.int4(uid),
    }
    texts = {
        "name": lambda: enc_text(b"SO" + int_text(ids)),
        "state": lambda: enc_vocab(["sale", "cancel"])[cancelled],
        "picking_policy": lambda: np.full(n, enc_vocab(["direct"])[0], dtype=object),
        "invoice_status": lambda: enc_vocab(["to invoice", "no"])[cancelled],
    }
    return fixed, texts


def order_chunks(orders, ctx, first_id, fixed_cols, text_cols, chunk):
    for a in range(0, orders.n, chunk):
        s = slice(a, a + chunk)
        n = len(orders.date[s])
        fixed, texts = _order_fields(orders, ctx, first_id + a + np.arange(n), s, n)
        yield encode_rows([fixed[c]() for c in fixed_cols], [texts[c]() for c in text_cols], n)
