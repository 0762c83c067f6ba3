"""Benchmark: opening a partner with 10,000 interactions, against a plain-SQL floor.

    .venv/bin/python bench/partner_timeline.py [--db cc_timeline] [--interactions 10000]
                                               [--others 100000] [--repeat 30]

1. Makes sure database ``--db`` exists (a clone of the suite's template, so
   ``crm_contact_center`` is installed) and holds a customer company with five
   contacts and ``--interactions`` interactions spread over them, plus
   ``--others`` interactions of other partners, inserted set-based (one
   ``INSERT ... SELECT generate_series``; kept for the next run).
2. Times what the web client does when that customer is opened, each as the
   supervisor (admin) and as the customer's salesperson (record rules with
   joins), caches invalidated before every run, median of ``--repeat``:

   * ``count``: the Communications smart button (``interaction_count``);
   * ``timeline``: the Communications page of the form (``web_read`` of
     ``interaction_timeline_ids`` with the sub-fields of its inline list);
   * ``form``: ``web_read`` of every field of the partner form, with the
     specification the web client derives from the form view (x2many
     sub-fields from their inline lists);
   * ``list``: the first page of the interactions the smart button opens
     (``web_search_read``, limit 80, newest first, with the count the list
     view asks for, limited to 10,001);
   * ``floor``: the 80 newest rows of the customer with one indexed SELECT.

3. Prints the times, the ratios to the floor and the number of queries, then
   EXPLAINs every query the four UI operations ran on ``crm_interaction`` and
   fails when one of them scans the table sequentially.

A benchmark, not a test: run it by hand, the figures are in the addon's
readme/USAGE.md.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import suite  # noqa: E402  (tools/suite.py: template and config helpers)

CUSTOMER = "Timeline Bench Customer"
SALESMAN = "timeline_bench_salesman"

# one statement: the customer's interactions over its contacts, channels, states
INSERT_SQL = """
INSERT INTO crm_interaction
       (channel_id, direction, date, state, duration, subject, partner_id,
        commercial_partner_id, user_id, company_id, done_date, rating_last_value,
        create_date, write_date, create_uid, write_uid)
SELECT channels[1 + i %% array_length(channels, 1)],
       CASE WHEN i %% 3 = 0 THEN 'outbound' ELSE 'inbound' END,
       now() at time zone 'UTC' - i * interval '37 minutes',
       CASE WHEN i %% 17 = 0 THEN 'missed' ELSE 'done' END,
       (i * 7919) %% 900,
       'Bench interaction ' || i,
       partners[1 + i %% array_length(partners, 1)],
       commercial[1 + i %% array_length(commercial, 1)],
       %(user)s, %(company)s,
       now() at time zone 'UTC' - i * interval '37 minutes', 0,
       now() at time zone 'UTC', now() at time zone 'UTC', 1, 1
  FROM generate_series(1, %(count)s) i,
       (SELECT array_agg(id ORDER BY id) AS channels FROM crm_interaction_channel
         WHERE active AND company_id IS NULL) c,
       (SELECT %(partners)s::int[] AS partners, %(commercial)s::int[] AS commercial) p
"""

FLOOR_SQL = """
SELECT id, date, channel_id, direction, partner_id, subject, lead_id, user_id, state, outcome
  FROM crm_interaction
 WHERE commercial_partner_id = %s
 ORDER BY date DESC, id DESC
 LIMIT 80
"""


def ensure_database(db):
    suite.write_conf()
    if not suite.db_exists(db):
        template = suite.ensure_template()
        print(f"creating {db} from {template}")
        suite.clone_db(template, db)


def spec_from_arch(model, arch, depth=0):
    """The ``web_read`` specification the web client builds for a view: every
    field of the arch, many2one with its display name, x2many with the fields
    of its inline list (limit 40, the client's default)."""
    spec = {}
    for node in arch.iter("field"):
        if any(p.tag == "field" for p in node.iterancestors()):
            continue  # an x2many's sub-view: handled with its field
        name = node.get("name")
        field = model._fields.get(name)
        if field is None:
            continue
        if field.type == "many2one":
            spec[name] = {"fields": {"display_name": {}}}
        elif field.type in ("one2many", "many2many"):
            comodel = model.env[field.comodel_name]
            sub = node.find("list")
            sub_spec = (
                spec_from_arch(comodel, sub, depth + 1)
                if sub is not None and depth == 0
                else {"display_name": {}}
            )
            spec[name] = {"fields": sub_spec, "limit": 40}
        else:
            spec[name] = {}
    return spec


def setup(env, args):
    """The customer, its contacts and salesperson, and the interactions."""
    Partner = env["res.partner"]
    customer = Partner.search([("name", "=", CUSTOMER), ("is_company", "=", True)], limit=1)
    salesman = env["res.users"].search([("login", "=", SALESMAN)], limit=1)
    if not salesman:
        salesman = env["res.users"].create(
            {
                "name": "Timeline Bench Salesman",
                "login": SALESMAN,
                "groups_id": [(6, 0, [env.ref("sales_team.group_sale_salesman").id])],
            }
        )
    if not customer:
        customer = Partner.create({"name": CUSTOMER, "is_company": True, "user_id": salesman.id})
        Partner.create([{"name": f"Contact {i}", "parent_id": customer.id} for i in range(5)])
    company = env.company
    cr = env.cr
    cr.execute(
        "SELECT count(*) FROM crm_interaction WHERE commercial_partner_id = %s", [customer.id]
    )
    have = cr.fetchone()[0]
    contacts = customer | customer.child_ids
    if have < args.interactions:
        start = time.perf_counter()
        cr.execute(
            INSERT_SQL,
            {
                "count": args.interactions - have,
                "partners": contacts.ids,
                "commercial": [customer.id] * len(contacts),
                "user": salesman.id,
                "company": company.id,
            },
        )
        print(
            f"inserted {cr.rowcount} interactions of the customer in {time.perf_counter() - start:.1f} s"
        )
    cr.execute(
        "SELECT count(*) FROM crm_interaction WHERE commercial_partner_id <> %s", [customer.id]
    )
    others = cr.fetchone()[0]
    if others < args.others:
        cr.execute(
            "SELECT array_agg(id), array_agg(commercial_partner_id) FROM ("
            " SELECT id, commercial_partner_id FROM res_partner WHERE id <> ALL(%s)"
            " ORDER BY id LIMIT 500) p",
            [contacts.ids],
        )
        partners, commercial = cr.fetchone()
        start = time.perf_counter()
        cr.execute(
            INSERT_SQL,
            {
                "count": args.others - others,
                "partners": partners,
                "commercial": commercial,
                "user": salesman.id,
                "company": company.id,
            },
        )
        print(
            f"inserted {cr.rowcount} interactions of other partners in {time.perf_counter() - start:.1f} s"
        )
    cr.execute("ANALYZE crm_interaction")
    cr.commit()
    return customer, salesman


class QueryLog:
    """Records the statements a block runs on the cursor (to EXPLAIN them)."""

    def __init__(self, cr):
        self.cr, self.queries, self._execute = cr, [], None

    def __enter__(self):
        self._execute = self.cr.execute
        queries = self.queries

        def execute(query, params=None, log_exceptions=True):
            queries.append((query, params))
            return self._execute(query, params, log_exceptions)

        self.cr.execute = execute
        return self

    def __exit__(self, *exc):
        del self.cr.execute  # back to the class's method


def timed(env, fn, repeat):
    """Median seconds and query count of ``fn()``, caches invalidated before each run."""
    fn()  # warm-up: registry caches, plans
    times = []
    for _ in range(repeat):
        env.invalidate_all()
        count = env.cr.sql_log_count
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        queries = env.cr.sql_log_count - count
    return statistics.median(times), queries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="cc_timeline")
    parser.add_argument("--interactions", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    ensure_database(args.db)

    import odoo

    odoo.tools.config.parse_config(["-c", str(suite.CONF), "-d", args.db, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        customer, salesman = setup(env, args)
        admin = env.ref("base.user_admin")
        print(
            f"customer {customer.id}: {len(customer.child_ids)} contacts, "
            f"{args.interactions} interactions; table: "
            f"{env['crm.interaction'].search_count([]):,} interactions"
        )
        failures = []
        for user in (admin, salesman):
            uenv = env(user=user.id, context={"lang": "en_US"})
            partner = customer.with_env(uenv)
            Interaction = uenv["crm.interaction"]
            # the views as this user gets them (fields of groups he is not in are removed)
            form_arch = etree.fromstring(
                uenv["res.partner"].get_views([(False, "form")])["views"]["form"]["arch"]
            )
            list_arch = etree.fromstring(
                Interaction.get_views([(False, "list")])["views"]["list"]["arch"]
            )
            form_spec = spec_from_arch(uenv["res.partner"], form_arch)
            list_spec = spec_from_arch(Interaction, list_arch)
            timeline_spec = {"interaction_timeline_ids": form_spec["interaction_timeline_ids"]}
            domain = partner.action_view_interactions()["domain"]
            operations = {
                "count": lambda p=partner: p.web_read({"interaction_count": {}}),
                "timeline": lambda p=partner, s=timeline_spec: p.web_read(s),
                "form": lambda p=partner, s=form_spec: p.web_read(s),
                "list": lambda m=Interaction, d=domain, s=list_spec: m.web_search_read(
                    d, s, limit=80, order="date desc, id desc", count_limit=10_001
                ),
            }
            # what the form did before the timeline was bounded: every id of the one2many
            old_spec = {
                "interaction_ids": {
                    "fields": timeline_spec["interaction_timeline_ids"]["fields"],
                    "limit": 10,
                }
            }
            operations["old timeline"] = lambda p=partner, s=old_spec: p.web_read(s)
            floor, _ = timed(
                env, lambda: cr.execute(FLOOR_SQL, [customer.id]) or cr.fetchall(), args.repeat
            )
            print(
                f"\nas {user.login}: floor (indexed SELECT of the 80 newest) {floor * 1000:.2f} ms"
            )
            for name, fn in operations.items():
                seconds, queries = timed(uenv, fn, args.repeat)
                print(
                    f"  {name:<13} {seconds * 1000:7.2f} ms  {seconds / floor:6.1f}x floor"
                    f"  {queries:3d} queries"
                )
            result = operations["list"]()
            cr.execute(
                "SELECT count(*) FROM crm_interaction WHERE commercial_partner_id = %s",
                [customer.id],
            )
            assert result["length"] == cr.fetchone()[0], result["length"]
            timeline = operations["timeline"]()[0]["interaction_timeline_ids"]
            assert len(timeline) <= 10, len(timeline)
            # the plans of the UI's queries on crm_interaction
            with QueryLog(cr) as log:
                for name, fn in operations.items():
                    if name != "old timeline":
                        uenv.invalidate_all()
                        fn()
            used, checked = set(), 0
            for query, params in log.queries:
                text = query.code if hasattr(query, "code") else str(query)
                if hasattr(query, "params"):
                    params = query.params
                if "crm_interaction" not in text or not text.lstrip().upper().startswith("SELECT"):
                    continue
                cr.execute("EXPLAIN " + text, params)
                plan = "\n".join(row[0] for row in cr.fetchall())
                checked += 1
                used.update(
                    re.findall(r"(?:Index|Index Only) Scan(?: Backward)? using (\w+)", plan)
                )
                if re.search(r"Seq Scan on crm_interaction\b(?!_)", plan):
                    failures.append(f"{user.login}: {text[:200]}\n{plan}")
            print(
                f"  EXPLAIN of the {checked} SELECTs on crm_interaction: sequential scans "
                f"{sum(1 for f in failures if f.startswith(user.login + ':'))}; "
                f"indexes used: {', '.join(sorted(used))}"
            )
        cr.rollback()
    if failures:
        print("\nSEQUENTIAL SCANS:\n" + "\n\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
