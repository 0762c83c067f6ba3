"""Demo data of crm_retention that is built rather than declared.

Called once, at install with demo data, by ``hooks.post_init_hook``: not
model methods, so production code carries no demo machinery.
"""

import random

from odoo import fields


def load_campaign(env, size=240, seed=2024):
    """Demo: a finished win-back campaign whose results look real.

    Creates ``size`` lapsed customers (two deals a month or two apart, the
    last one 400 days before the campaign: lost before the year the
    dashboard shows), enrols them 130 days ago with a 20 % control
    group, logs the steps they received and gives some of them a
    comeback deal inside their 90-day window: about 30 % of the treated
    and 15 % of the control customers. Outcomes, revenue and costs are
    then measured from those deals by the normal outcome code, so every
    figure on the campaign is consistent with the deals.
    """
    Campaign = env["crm.retention.campaign"]
    rng = random.Random(seed)
    company = env.company
    today = fields.Date.context_today(Campaign)
    launch = fields.Date.add(today, days=-130)
    won_stage = env["crm.stage"].search([("is_won", "=", True)], limit=1)
    words = [
        "Amber",
        "Birch",
        "Cedar",
        "Delta",
        "Ember",
        "Fjord",
        "Granite",
        "Harbor",
        "Iris",
        "Juniper",
        "Kite",
        "Linden",
        "Maple",
        "Nova",
        "Opal",
        "Pine",
    ]
    trades = [
        "Bakery",
        "Builders",
        "Clinic",
        "Design",
        "Foods",
        "Garage",
        "Logistics",
        "Media",
        "Outfitters",
        "Print",
        "Studio",
        "Textiles",
        "Trading",
        "Works",
    ]
    # the salespeople of the lifecycle demo, in turn (they may be absent)
    owners = [
        user
        for xmlid in ("base.user_admin", "base.user_demo",
                      "crm_retention.user_anna_retention_demo",
                      "crm_retention.user_lucas_retention_demo")
        if (user := env.ref(xmlid, raise_if_not_found=False))
    ]  # fmt: skip
    belgium = env.ref("base.be")
    partners = env["res.partner"].create(
        [
            {
                "name": f"{rng.choice(words)} {rng.choice(trades)} {i + 1}",
                "is_company": True,
                "email": f"orders{i + 1}@winback-demo.example.com",
                "phone": f"+32 470 {i + 1:02d} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                "country_id": belgium.id,
                "user_id": owners[i % len(owners)].id,
            }
            for i in range(size)
        ]
    )  # fmt: skip
    Lead = env["crm.lead"].with_context(lifecycle_skip_refresh=True, tracking_disable=True)

    def deal(partner, day, amount, name):
        return {
            "name": f"{partner.name}: {name}",
            "type": "opportunity",
            "partner_id": partner.id,
            "user_id": partner.user_id.id,
            "team_id": partner.user_id.sale_team_id.id,
            "stage_id": won_stage.id,
            "expected_revenue": amount,
            "date_closed": fields.Datetime.to_datetime(day).replace(hour=10),
        }

    Lead.create(
        [
            # lost long before the year the dashboard shows: the campaign wins
            # some back, the year's churn is the rest of the customers'
            deal(p, fields.Date.add(launch, days=-400 - gap), rng.randint(8, 30) * 100, "order")
            for p in partners
            for gap in (0, rng.randint(30, 60))
        ]
    )
    Profile = env["crm.customer.profile"]
    Profile._recompute_partners(partners.ids, company, today=launch)
    campaign = Campaign.with_context(retention_no_default_steps=True).create(
        {
            "name": env._("Spring win-back"),
            "objective": "retain",
            "company_id": company.id,
            "user_id": env.ref("base.user_admin").id,
            "date_start": launch,
            "date_end": fields.Date.add(launch, days=14),
            "control_share": 0.2,
            "random_seed": seed,
            "outcome_days": 90,
            "offer_type": "percentage",
            "offer_value": 10,
            "offer_validity_days": 60,
            "offer_use_codes": True,
            "offer_code_prefix": "SPRING-",
            "cost_per_member": 4,
            "budget": 5000,
            "target_domain": f"[('partner_id', 'in', {partners.ids})]",
            "step_ids": Campaign._get_default_steps(),
        }
    )
    campaign.write({"stage_ids": [(5, 0, 0)], "state": "running"})
    members = campaign._enrol(campaign._get_target_profiles(), launch, exact_split=True)
    email_step, call_step = campaign.step_ids.sorted("sequence")
    Execution = env["crm.retention.campaign.step.execution"]
    executions, comebacks = [], []
    for member in members:
        treated = member.member_group == "treated"
        responded = treated and rng.random() < 0.22
        if treated:
            member.write(
                {
                    "contacted_date": launch,
                    "contact_cost": campaign.cost_per_member,
                    "cost": campaign.cost_per_member,
                    "state": "contacted",
                    "next_step_id": False,
                    "next_step_date": False,
                }
            )
            executions.append((member, email_step, launch, "done"))
            if responded:
                member.write(
                    {"state": "responded",
                     "responded_date": fields.Date.add(launch, days=rng.randint(1, 6))}
                )  # fmt: skip
                executions.append((member, call_step, fields.Date.add(launch, days=7),
                                   "skipped"))  # fmt: skip
            else:
                executions.append((member, call_step, fields.Date.add(launch, days=7), "done"))
        chance = (0.55 if responded else 0.24) if treated else 0.15
        if rng.random() < chance:
            day = fields.Date.add(launch, days=rng.randint(3, 88))
            comebacks.append(deal(member.partner_id, day, rng.randint(10, 40) * 100,
                                  "comeback order"))  # fmt: skip
    Execution.create(
        [
            {
                "member_id": member.id,
                "step_id": step.id,
                "campaign_id": campaign.id,
                "company_id": company.id,
                "channel": step.action,
                "date": day,
                "state": state,
                "reason": env._("Customer already responded") if state == "skipped"
                else False,
            }
            for member, step, day, state in executions
        ]
    )  # fmt: skip
    Lead.create(comebacks)
    Profile._recompute_partners(partners.ids, company, today=today)
    members._refresh_outcomes(company, today=today)
    campaign.state = "done"
    return campaign
