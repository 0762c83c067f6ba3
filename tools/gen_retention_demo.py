"""Regenerate addons/crm_retention/demo/crm_retention_demo.xml.

The demo tells stories with named customers and adds a seeded population of
repeat and one-time buyers, enough for the churn model to fit (it needs
``min_repeat_customers`` repeat buyers). Each customer has a salesperson of
one of two teams and a country, and some lost a quote, so every report has a
story a manager recognises. Dates are relative to the day the demo is loaded.
The churn model is fitted once all the demo (campaign included) is loaded:
see crm_retention/hooks.py. Run: python3 tools/gen_retention_demo.py
"""

import random
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parent.parent / "addons/crm_retention/demo/crm_retention_demo.xml"

STORIES = [
    # (xml id, name, city, [(days ago, amount)], comment)
    (
        "nordic_timber",
        "Nordic Timber",
        "Oslo",
        [(700 - i * 60, 4200 + i * 150) for i in range(12)],
        "loyal: a deal every two months",
    ),
    (
        "baltic_interiors",
        "Baltic Interiors",
        "Riga",
        [(600 - i * 30, 1800) for i in range(8)],
        "monthly buyer who stopped a year ago: lost",
    ),
    (
        "atlas_office",
        "Atlas Office Supply",
        "Lyon",
        [(330, 2500), (270, 2600), (210, 2400), (150, 2700)],
        "two-month rhythm, silent for five months: at risk",
    ),
    ("green_leaf", "Green Leaf Cafe", "Porto", [(20, 9800)], "brand new customer"),
    (
        "orion_logistics",
        "Orion Logistics",
        "Hamburg",
        [(500, 15000), (120, 12000), (30, 16000)],
        "irregular big account",
    ),
    ("sunrise_hotels", "Sunrise Hotels", "Nice", [(420, 3100)], "bought once, never came back"),
]

PREFIXES = [
    "Alpine",
    "Blue",
    "Cedar",
    "Delta",
    "Echo",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lotus",
    "Maple",
    "North",
    "Oak",
    "Pine",
    "Quartz",
    "River",
    "Silver",
    "Terra",
    "Union",
    "Vista",
    "Willow",
    "Zenith",
]
SUFFIXES = ["Bakery", "Studio", "Traders", "Clinic", "Builders", "Foods", "Design", "Motors"]

COUNTRY = {
    "Oslo": "no", "Riga": "lv", "Lyon": "fr", "Porto": "pt", "Hamburg": "de", "Nice": "fr",
    "Paris": "fr", "Berlin": "de", "Madrid": "es", "Vienna": "at", "Prague": "cz",
}  # fmt: skip
# a valid phone per customer (number n: 1-9999), so that a demo call.ringing
# pops a known caller
DIAL = {
    "no": "+47 22 55 {n:04d}", "lv": "+371 67 55 {n:04d}", "fr": "+33 4 72 55 {hi:02d} {lo:02d}",
    "pt": "+351 22 255 {n:04d}", "de": "+49 40 5550 {n:04d}", "es": "+34 91 555 {n:04d}",
    "at": "+43 1 555 {n:04d}", "cz": "+420 2 5550 {n:04d}",
}  # fmt: skip
# (user xml id, team xml id): two teams of two salespeople; Marc Demo (demo /
# demo) is the salesman who logs in
SALES = [
    ("base.user_admin", "sales_team.team_sales_department"),
    ("base.user_demo", "sales_team.crm_team_1"),
    ("user_anna_retention_demo", "sales_team.team_sales_department"),
    ("user_lucas_retention_demo", "sales_team.crm_team_1"),
]
STORY_OWNER = {
    "nordic_timber": 2, "baltic_interiors": 1, "atlas_office": 1, "green_leaf": 3,
    "orion_logistics": 0, "sunrise_hotels": 1,
}  # fmt: skip
USERS = """    <record id="user_anna_retention_demo" model="res.users" context="{'no_reset_password': True}">
        <field name="name">Anna Keller</field>
        <field name="login">anna.keller@example.com</field>
        <field name="email">anna.keller@example.com</field>
        <field name="groups_id" eval="[Command.link(ref('sales_team.group_sale_salesman'))]"/>
    </record>
    <record id="user_lucas_retention_demo" model="res.users" context="{'no_reset_password': True}">
        <field name="name">Lucas Moreau</field>
        <field name="login">lucas.moreau@example.com</field>
        <field name="email">lucas.moreau@example.com</field>
        <field name="groups_id" eval="[Command.link(ref('sales_team.group_sale_salesman'))]"/>
    </record>
    <record id="crm_team_member_anna_retention_demo" model="crm.team.member">
        <field name="user_id" ref="user_anna_retention_demo"/>
        <field name="crm_team_id" ref="sales_team.team_sales_department"/>
    </record>
    <record id="crm_team_member_lucas_retention_demo" model="crm.team.member">
        <field name="user_id" ref="user_lucas_retention_demo"/>
        <field name="crm_team_id" ref="sales_team.crm_team_1"/>
    </record>"""


def lead(n, partner_ref, name, days, amount, owner, lost=False):
    user, team = SALES[owner]
    state = (
        """<field name="stage_id" ref="crm.stage_lead3"/>
        <field name="probability" eval="0"/>
        <field name="active" eval="False"/>
        <field name="lost_reason_id" ref="crm.lost_reason_1"/>"""
        if lost
        else """<field name="stage_id" ref="crm.stage_lead4"/>
        <field name="probability" eval="100"/>"""
    )
    label = "quote" if lost else "order"
    return f'''    <record id="crm_lead_retention_{n}_demo" model="crm.lead">
        <field name="name">{escape(name)}: {label} #{n}</field>
        <field name="type">opportunity</field>
        <field name="partner_id" ref="{partner_ref}"/>
        <field name="user_id" ref="{user}"/>
        <field name="team_id" ref="{team}"/>
        {state}
        <field name="expected_revenue" eval="{amount}"/>
        <field name="date_closed" eval="(DateTime.today() - relativedelta(days={days})).strftime('%Y-%m-%d 10:00:00')"/>
    </record>'''


def partner(xmlid, name, city, owner, number):
    phone = DIAL[COUNTRY[city]].format(n=number, hi=number // 100, lo=number % 100)
    return f'''    <record id="{xmlid}" model="res.partner">
        <field name="name">{escape(name)}</field>
        <field name="is_company" eval="True"/>
        <field name="city">{escape(city)}</field>
        <field name="country_id" ref="base.{COUNTRY[city]}"/>
        <field name="user_id" ref="{SALES[owner][0]}"/>
        <field name="email">contact@{"-".join(name.lower().split())}.example.com</field>
        <field name="phone">{phone}</field>
    </record>'''


def main():
    rng = random.Random(20261127)
    # owners and lost quotes from their own generator: the purchase story of
    # the population stays the one the churn model was tuned on
    extra = random.Random(13)
    out = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        "<odoo>",
        "    <!-- Generated by tools/gen_retention_demo.py: named customers telling the",
        "         lifecycle stories, then a population the churn model is fitted on. -->",
        USERS,
    ]
    n = 0
    for number, (xmlid, name, city, deals, comment) in enumerate(STORIES, 1):
        ref = f"res_partner_{xmlid}_demo"
        out.append(f"    <!-- {escape(comment)} -->")
        owner = STORY_OWNER[xmlid]
        out.append(partner(ref, name, city, owner, number))
        for days, amount in deals:
            n += 1
            out.append(lead(n, ref, name, days, amount, owner))
    # population: a BG/NBD-like story (purchase rate, then a chance to drop out)
    for i in range(60):
        name = f"{PREFIXES[i % len(PREFIXES)]} {SUFFIXES[(i * 7) % len(SUFFIXES)]} {i + 1}"
        ref = f"res_partner_population_{i + 1}_demo"
        owner = extra.randrange(len(SALES))
        out.append(
            partner(
                ref,
                name,
                rng.choice(["Paris", "Berlin", "Madrid", "Vienna", "Prague"]),
                owner,
                100 + i,
            )  # fmt: skip
        )
        interval = rng.choice([30, 45, 60, 90, 120])
        day = rng.randint(60, 720)
        basket = rng.choice([500, 1200, 2500, 6000])
        if extra.random() < 0.3:  # a quote it did not take
            n += 1
            out.append(lead(n, ref, name, day + 20, basket, owner, lost=True))
        while day >= 0:
            n += 1
            out.append(lead(n, ref, name, day, int(basket * rng.uniform(0.6, 1.5)), owner))
            if rng.random() < 0.12:  # drops out
                break
            day -= int(interval * rng.uniform(0.5, 1.5))
    out.append("</odoo>")
    OUT.write_text("\n".join(out) + "\n")
    print(f"wrote {OUT} ({n} deals)")


if __name__ == "__main__":
    main()
