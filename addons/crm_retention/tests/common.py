from contextlib import contextmanager
from datetime import date, datetime, timedelta
from unittest.mock import patch

import numpy as np
from freezegun import freeze_time

from odoo.tests import TransactionCase, new_test_user
from odoo.tools import SQL

TODAY = date(2026, 6, 30)


def foreign_currency(company, rates):
    """An active currency other than ``company``'s, with the company's
    ``rates`` ``{date: rate}`` (its own currency at 1.0 from the first date)."""
    env = company.env
    own = company.currency_id
    other = (
        env["res.currency"].with_context(active_test=False).search([("id", "!=", own.id)], limit=1)
    )
    other.active = True
    first = min(rates)
    env["res.currency.rate"].create(
        [{"name": first, "rate": 1.0, "currency_id": own.id, "company_id": company.id}]
        + [
            {"name": day, "rate": rate, "currency_id": other.id, "company_id": company.id}
            for day, rate in rates.items()
        ]
    )
    return other


@contextmanager
def extra_deals(env, deals, user=None, medium=None):
    """Add ``deals`` ``[(partner, company, date, amount, currency)]`` to the
    deal source, as a bridge addon (sale orders, invoices) would: documents
    of a model of their own (``test.deal``, ids 1, 2, ...) sold by ``user``
    through the UTM ``medium``.
    """
    Profile = type(env["crm.customer.profile"])
    original = Profile._deal_source_sql
    values = SQL(", ").join(
        SQL(
            "(%s, %s, %s::date, %s::numeric, %s, %s::integer, NULL::integer, %s::integer, "
            "'test.deal'::varchar, %s)",
            p.id,
            c.id,
            day,
            amount,
            cur.id,
            user.id if user else None,
            medium.id if medium else None,
            number,
        )
        for number, (p, c, day, amount, cur) in enumerate(deals, 1)
    )

    def with_extra_deals(model, company_ids, partner_ids=None):
        return SQL(
            "%s UNION ALL SELECT * FROM (VALUES %s) AS extra(partner_id, company_id, deal_date, "
            "amount, currency_id, user_id, team_id, medium_id, origin_model, origin_id)",
            original(model, company_ids, partner_ids),
            values,
        )

    with patch.object(Profile, "_deal_source_sql", with_extra_deals):
        yield


class RetentionCase(TransactionCase):
    """A company of its own (so stock and demo data never interfere), a
    salesperson, a retention manager and helpers to create won deals."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # metrics are relative to "today": freeze it for fixtures and tests alike
        cls.startClassPatcher(freeze_time(TODAY))
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        # the tests of the rebuild switch it on: elsewhere a fixture's
        # customers with deals older than their history keep the history the
        # tests write (the nightly run would rebuild it)
        cls.company = cls.env["res.company"].create(
            {"name": "Retention Test Co", "retention_rebuild_history": False}
        )
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        cls.salesman = new_test_user(
            cls.env,
            login="ret_salesman",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
            name="Sam Salesman",
        )
        cls.manager = new_test_user(
            cls.env,
            login="ret_manager",
            groups="sales_team.group_sale_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
            name="Mia Manager",
        )
        cls.won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        cls.open_stage = cls.env["crm.stage"].search([("is_won", "=", False)], limit=1)
        cls.Profile = cls.env["crm.customer.profile"]
        cls.stage = {
            kind: cls.env.ref(f"crm_retention.stage_{kind}")
            for kind in ("potential", "new", "active", "at_risk", "lost", "won_back")
        }

    @classmethod
    def _customer(cls, name, **vals):
        return cls.env["res.partner"].create({"name": name, "is_company": True, **vals})

    @classmethod
    def _deal(cls, partner, days_ago, amount=1000.0, won=True, **vals):
        closed = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time())
        return cls.env["crm.lead"].create(
            {
                "name": f"{partner.name} deal -{days_ago}d",
                "type": "opportunity",
                "partner_id": partner.id,
                "company_id": cls.company.id,
                "user_id": cls.salesman.id,
                "stage_id": (cls.won_stage if won else cls.open_stage).id,
                "expected_revenue": amount,
                **({"date_closed": closed + timedelta(hours=10)} if won else {}),
                **vals,
            }
        )

    @classmethod
    def _regulars(cls, count=30, amount=None, seed=7):
        """``count`` repeat buyers of rhythms of 20, 40 or 80 days (each
        interval +-30 %), from 100-600 days ago, each stopping after a deal
        with a chance of 15 %: enough to fit the churn model. Each deal is
        worth ``amount``, else a random 200-3,000."""
        rng = np.random.default_rng(seed)
        for i in range(count):
            partner = cls._customer(f"Regular {i:02d}")
            day = int(rng.integers(100, 600))
            interval = int(rng.choice([20, 40, 80]))
            while day >= 0:
                value = amount if amount is not None else float(rng.integers(200, 3000))
                cls._deal(partner, day, amount=value)
                if rng.random() < 0.15:
                    break
                day -= max(1, int(interval * rng.uniform(0.7, 1.3)))

    def _profile(self, partner):
        return self.Profile.search(
            [
                ("partner_id", "=", partner.commercial_partner_id.id),
                ("company_id", "=", self.company.id),
            ]
        )

    def _profile_writes(self):
        """Rows of crm_customer_profile inserted or updated so far by this
        transaction (PostgreSQL's own counters): how many times the
        customers' profiles were written, e.g. by refreshes."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT n_tup_ins + n_tup_upd FROM pg_stat_xact_user_tables"
            " WHERE relname = 'crm_customer_profile'"
        )
        return self.env.cr.fetchone()[0]

    def _recompute(self, **kw):
        return self.Profile.sudo()._recompute_company(self.company, today=TODAY, **kw)


class CampaignCase(RetentionCase):
    """RetentionCase plus lapsed customers and a campaign factory.

    With the default thresholds and no fitted model (too few repeat
    buyers), a one-time buyer whose deal is 150 days old is At risk (1.7
    typical intervals late) and one whose deal is 300 days old is Lost.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Campaign = cls.env["crm.retention.campaign"]
        cls.Member = cls.env["crm.retention.campaign.member"]
        cls.template = cls.env.ref("crm_retention.mail_template_campaign_offer")

    @classmethod
    def _lapsed_customers(cls, count, prefix="At risk", days_ago=150, **vals):
        customers = cls.env["res.partner"].create(
            [
                {
                    "name": f"{prefix} {i:03d}",
                    "is_company": True,
                    "email": f"{prefix.replace(' ', '').lower()}{i}@example.com",
                    "user_id": cls.salesman.id,
                    **vals,
                }
                for i in range(count)
            ]
        )
        Lead = cls.env["crm.lead"].with_context(lifecycle_skip_refresh=True)
        closed = datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time())
        Lead.create(
            [
                {
                    "name": f"{c.name} order",
                    "type": "opportunity",
                    "partner_id": c.id,
                    "company_id": cls.company.id,
                    "user_id": cls.salesman.id,
                    "stage_id": cls.won_stage.id,
                    "expected_revenue": 1000.0,
                    "date_closed": closed,
                }
                for c in customers
            ]
        )
        cls.env["crm.customer.profile"].sudo()._recompute_partners(customers.ids, cls.company)
        return customers

    @classmethod
    def _campaign(cls, **vals):
        return cls.Campaign.with_user(cls.manager).create(
            {
                "name": "Win them back",
                "objective": "retain",
                "company_id": cls.company.id,
                "random_seed": 1234,
                **vals,
            }
        )

    def _launch(self, campaign, share=None):
        wizard = (
            self.env["crm.retention.campaign.launch"]
            .with_user(self.manager)
            .create({"campaign_id": campaign.id, "confirm": True})
        )
        if share is not None:
            wizard.control_share = share
        wizard.action_launch()
        return campaign.member_ids

    def _run_steps(self, today=TODAY):
        return self.Member.sudo()._run_due_steps(today=today)
