from odoo.tests import TransactionCase, new_test_user


class ContactCenterCommon:
    """A company of its own with a country (phone matching), a team of two
    agents, a salesperson, a supervisor and a customer company with a contact."""

    @classmethod
    def _setup_contact_center(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.company = cls.env["res.company"].create(
            {"name": "CC Test Co", "country_id": cls.env.ref("base.be").id}
        )
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        users = {}
        for login, groups in (
            ("cc_agent1", "crm_contact_center.group_contact_center_agent"),
            ("cc_agent2", "crm_contact_center.group_contact_center_agent"),
            ("cc_salesman", "sales_team.group_sale_salesman"),
            ("cc_supervisor", "crm_contact_center.group_contact_center_supervisor"),
        ):
            users[login] = new_test_user(
                cls.env,
                login=login,
                groups=groups,
                company_id=cls.company.id,
                company_ids=[cls.company.id],
                name=login.replace("cc_", "").title(),
                email=f"{login}@example.com",
            )
        cls.agent1, cls.agent2 = users["cc_agent1"], users["cc_agent2"]
        cls.salesman, cls.supervisor = users["cc_salesman"], users["cc_supervisor"]
        cls.team = cls.env["crm.team"].create(
            {
                "name": "Hotline",
                "company_id": cls.company.id,
                "user_id": cls.supervisor.id,
                "member_ids": [(6, 0, (cls.agent1 | cls.agent2).ids)],
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Acme Customer",
                "is_company": True,
                "company_id": cls.company.id,
                "email": "info@acme.example.com",
                "phone": "+32 2 555 12 34",
                "user_id": cls.salesman.id,
            }
        )
        cls.contact = cls.env["res.partner"].create(
            {
                "name": "Alice Acme",
                "parent_id": cls.customer.id,
                "email": "Alice@Acme.example.com",
                "mobile": "0470 12 34 56",
                "company_id": cls.company.id,
            }
        )
        cls.channel = {
            code: cls.env.ref(f"crm_contact_center.channel_{code}")
            for code in ("phone", "email", "sms", "meeting", "web", "chat")
        }
        cls.Interaction = cls.env["crm.interaction"]

    @classmethod
    def _opportunity(cls, partner, **vals):
        return cls.env["crm.lead"].create(
            {
                "name": f"Deal with {partner.name}",
                "type": "opportunity",
                "partner_id": partner.id,
                "company_id": cls.company.id,
                "user_id": cls.salesman.id,
                "team_id": cls.team.id,
                **vals,
            }
        )


class ContactCenterCase(ContactCenterCommon, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_contact_center()
