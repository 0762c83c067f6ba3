"""The suite's access matrix: which role may read, write, create and delete
each model of the four addons, checked against ONE table (``MATRIX``).

docs/ACCESS.md is the same table in prose, with the record-rule scope of
each right (own / team / company / all). Run::

    tools/suite.py test tests/test_access_matrix.py

On a mismatch the test fails with the list of differences and the rows of
the table as they should read for the current code, ready to paste.
"""

from odoo.addons.crm_retention.tests.common import CampaignCase
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

ADDONS = ("crm_retention", "crm_contact_center", "crm_kpi", "crm_retention_loyalty")

# Roles, in the column order of MATRIX: (column name, groups of a user created
# for it; None = the database's administrator, base.user_admin). Implied
# groups apply: a salesman is also a retention user and a contact-center agent.
ROLES = (
    ("salesman", "sales_team.group_sale_salesman"),
    ("salesman_all", "sales_team.group_sale_salesman_all_leads"),
    ("sales_manager", "sales_team.group_sale_manager"),
    ("retention_user", "base.group_user,crm_retention.group_retention_user"),
    ("retention_manager", "base.group_user,crm_retention.group_retention_manager"),
    ("cc_agent", "base.group_user,crm_contact_center.group_contact_center_agent"),
    ("cc_supervisor", "base.group_user,crm_contact_center.group_contact_center_supervisor"),
    ("admin", None),
)
OPERATIONS = ("read", "write", "create", "unlink")

# THE ACCESS MATRIX. Edit this table when a right changes on purpose (and
# docs/ACCESS.md with it). One row per model defined by the four addons
# (abstract models excluded); one cell per role of ROLES, in that order:
# "rwcd" = read, write, create, delete; "-" = no such right.
# Columns (ROLES): sm_own = salesman, sm_all = salesman_all, s_mgr =
# sales_manager, ret_usr / ret_mgr = retention user / manager only, cc_agt /
# cc_sup = contact-center agent / supervisor only, admin.
# fmt: off
MATRIX = {
    #                                         sm_own  sm_all  s_mgr   ret_usr ret_mgr cc_agt  cc_sup  admin
    "crm.customer.profile":                  ("r---", "r---", "rw--", "r---", "rw--", "----", "----", "rw--"),
    "crm.interaction":                       ("rwc-", "rwc-", "rwcd", "----", "----", "rwc-", "rwcd", "rwcd"),
    "crm.interaction.channel":               ("r---", "r---", "rwcd", "----", "----", "r---", "rwcd", "rwcd"),
    "crm.interaction.log.wizard":            ("rwc-", "rwc-", "rwc-", "----", "----", "rwc-", "rwc-", "rwc-"),
    "crm.interaction.backfill.wizard":       ("----", "----", "rwc-", "----", "----", "----", "rwc-", "rwc-"),
    "crm.interaction.source.key.wizard":     ("----", "----", "rwc-", "----", "----", "----", "rwc-", "rwc-"),
    "crm.interaction.source.rotate.wizard":  ("----", "----", "rwc-", "----", "----", "----", "rwc-", "rwc-"),
    "crm.interaction.source.message":        ("----", "----", "----", "----", "----", "----", "----", "r---"),
    "crm.interaction.source.secret":         ("----", "----", "r---", "----", "----", "----", "r---", "r---"),
    "crm.interaction.cdr.import.wizard":     ("----", "----", "rwc-", "----", "----", "----", "rwc-", "rwc-"),
    "crm.customer.profile.assign":           ("----", "----", "rwc-", "----", "rwc-", "----", "----", "rwc-"),
    "crm.customer.profile.campaign":         ("----", "----", "rwc-", "----", "rwc-", "----", "----", "rwc-"),
    "crm.customer.profile.call":             ("rwc-", "rwc-", "rwc-", "rwc-", "rwc-", "----", "----", "rwc-"),
    "crm.interaction.source":                ("r---", "r---", "rwcd", "----", "----", "r---", "rwcd", "rwcd"),
    "crm.kpi.campaign.report":               ("r---", "r---", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.channel.report":                ("r---", "r---", "r---", "----", "----", "r---", "r---", "r---"),
    "crm.kpi.cohort":                        ("r---", "r---", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.cohort.heatmap":                ("rwc-", "rwc-", "rwc-", "----", "rwc-", "----", "----", "rwc-"),
    "crm.kpi.customer.report":               ("r---", "r---", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.deal.report":                   ("r---", "r---", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.funnel.report":                 ("r---", "r---", "r---", "----", "----", "----", "----", "r---"),
    "crm.kpi.snapshot":                      ("----", "----", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.snapshot.backfill":             ("----", "----", "rwc-", "----", "rwc-", "----", "----", "rwc-"),
    "crm.kpi.snapshot.tag":                  ("----", "----", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.snapshot.total":                ("----", "----", "r---", "----", "r---", "----", "----", "r---"),
    "crm.kpi.survival":                      ("----", "r---", "r---", "----", "r---", "----", "----", "r---"),
    "crm.lifecycle.history":                 ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
    "crm.lifecycle.stage":                   ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign":                ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.launch":         ("----", "----", "rwcd", "----", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.member":         ("rw--", "rw--", "rwcd", "rw--", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.step":           ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.step.execution": ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
    "crm.retention.model":                   ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
    "crm.retention.model.fit":               ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
    "crm.retention.backtest":                ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.backtest.line":           ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.backtest.run":            ("----", "----", "rwc-", "----", "rwc-", "----", "----", "rwc-"),
}
# fmt: on


def _cell(rights):
    return "".join(
        letter if allowed else "-" for letter, allowed in zip("rwcd", rights, strict=True)
    )


def _row(model, cells):
    """A line of MATRIX, aligned as in the table above."""
    key = f'"{model}":'
    values = ", ".join(f'"{cell}"' for cell in cells)
    return f"    {key:<41}({values}),"


@tagged("post_install", "-at_install")
class TestAccessMatrix(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {}
        for role, groups in ROLES:
            if groups is None:
                cls.users[role] = cls.env.ref("base.user_admin")
            else:
                cls.users[role] = new_test_user(
                    cls.env, login=f"access_matrix_{role}", groups=groups
                )

    def _models(self):
        """Models whose defining module is one of the four addons."""
        names = self.env["ir.model"].search([]).mapped("model")
        return sorted(
            name
            for name in names
            if name in self.env
            and self.env[name]._original_module in ADDONS
            and not self.env[name]._abstract
        )

    def _current(self):
        Access = self.env["ir.model.access"]
        return {
            model: tuple(
                _cell(
                    Access.with_user(self.users[role]).check(model, op, raise_exception=False)
                    for op in OPERATIONS
                )
                for role, __ in ROLES
            )
            for model in self._models()
        }

    def test_access_matrix(self):
        current = self._current()
        roles = [role for role, __ in ROLES]
        diff = []
        for model in sorted(set(current) | set(MATRIX)):
            expected, got = MATRIX.get(model), current.get(model)
            if expected is None:
                diff.append(f"+ {model}: not in MATRIX (a new model?)")
                continue
            if got is None:
                diff.append(f"- {model}: in MATRIX but no such model in the four addons")
                continue
            for role, want, have in zip(roles, expected, got, strict=True):
                if want != have:
                    diff.append(f"~ {model} / {role}: expected {want}, actual {have}")
        if diff:
            rows = "\n".join(_row(model, cells) for model, cells in current.items())
            self.fail(
                f"{len(diff)} difference(s) with the access matrix:\n"
                + "\n".join(diff)
                + "\n\nMATRIX as the code stands (paste if the change is intended):\n"
                + rows
            )


# THE RECORD SCOPES. Which role may read (r) and write (w) which record of a
# small company: the record rules behind docs/ACCESS.md's scopes, checked on
# real records with the ORM's own check (``check_access``), company A active.
# "own" = the customer's salesperson is the salesman; the "teammate" is a
# salesman of the same sales team. "(protected fields)" writes a field only
# managers may change (see crm_retention's campaign member). Edit this table
# when a scope changes on purpose, and docs/ACCESS.md with it.
SCOPE_ROLES = (
    "salesman",
    "salesman_all",
    "sales_manager",
    "retention_manager",
    "cc_agent",
    "cc_supervisor",
    "admin",
)
# fmt: off
SCOPES = {
    #                                              sm_own sm_all s_mgr ret_mgr cc_agt cc_sup admin
    "profile: own customer":                      ("r-", "r-", "rw", "rw", "--", "--", "rw"),
    "profile: teammate's customer":               ("--", "r-", "rw", "rw", "--", "--", "rw"),
    "profile: company B customer":                ("--", "--", "--", "--", "--", "--", "--"),
    "history: own customer":                      ("r-", "r-", "r-", "r-", "--", "--", "r-"),
    "history: teammate's customer":               ("--", "r-", "r-", "r-", "--", "--", "r-"),
    "stage: shared":                              ("r-", "r-", "r-", "r-", "--", "--", "rw"),
    "stage: company A":                           ("r-", "r-", "rw", "rw", "--", "--", "rw"),
    "channel: shared":                            ("r-", "r-", "r-", "--", "r-", "r-", "rw"),
    "channel: company A":                         ("r-", "r-", "rw", "--", "r-", "rw", "rw"),
    "interaction: own request":                   ("rw", "r-", "rw", "--", "--", "rw", "rw"),
    "interaction: team request, unassigned":      ("rw", "r-", "rw", "--", "--", "rw", "rw"),
    "interaction: teammate's captured e-mail":    ("--", "r-", "rw", "--", "--", "rw", "rw"),
    "interaction: teammate's finished call":      ("--", "r-", "rw", "--", "--", "rw", "rw"),
    "interaction: company B":                     ("--", "--", "--", "--", "--", "--", "--"),
    "campaign: company A":                        ("r-", "r-", "rw", "rw", "--", "--", "rw"),
    "member: own customer":                       ("rw", "rw", "rw", "rw", "--", "--", "rw"),
    "member: own customer (protected fields)":    ("r-", "r-", "rw", "rw", "--", "--", "rw"),
    "member: teammate's customer":                ("--", "rw", "rw", "rw", "--", "--", "rw"),
}
# fmt: on


@tagged("post_install", "-at_install")
class TestRecordScopes(CampaignCase):
    """Each role of SCOPE_ROLES against one record of each kind in SCOPES."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        company_b = env["res.company"].create({"name": "Scope Test Co B"})
        in_a = {"company_id": cls.company.id, "company_ids": [cls.company.id]}

        def user(login, groups):
            return new_test_user(env, login=f"scope_{login}", groups=groups, **in_a)

        cls.teammate = user("teammate", "sales_team.group_sale_salesman")
        cls.users = {
            "salesman": cls.salesman,
            "salesman_all": user("salesman_all", "sales_team.group_sale_salesman_all_leads"),
            "sales_manager": cls.manager,
            "retention_manager": user(
                "retention_manager", "base.group_user,crm_retention.group_retention_manager"
            ),
            "cc_agent": user(
                "cc_agent", "base.group_user,crm_contact_center.group_contact_center_agent"
            ),
            "cc_supervisor": user(
                "cc_supervisor",
                "base.group_user,crm_contact_center.group_contact_center_supervisor",
            ),
            "admin": user("admin", "base.group_system,sales_team.group_sale_manager"),
        }
        team = env["crm.team"].create(
            {"name": "Scope team", "company_id": cls.company.id,
             "member_ids": [(6, 0, (cls.salesman | cls.teammate).ids)]}
        )  # fmt: skip
        # two lapsed customers of company A (one each), one of company B
        own = cls._lapsed_customers(1, prefix="Own")
        mate = cls._lapsed_customers(1, prefix="Mate", user_id=cls.teammate.id)
        env["crm.lead"].search([("partner_id", "=", mate.id)]).user_id = cls.teammate
        foreign = cls._customer("Foreign", company_id=company_b.id)
        env["crm.lead"].create(
            {"name": "B deal", "type": "opportunity", "partner_id": foreign.id,
             "company_id": company_b.id, "stage_id": cls.won_stage.id,
             "expected_revenue": 500, "date_closed": "2024-01-10"}
        )  # fmt: skip
        Profile = env["crm.customer.profile"].sudo()
        Profile._recompute_company(company_b)
        campaign = cls._campaign(name="Scopes")
        wizard = (
            env["crm.retention.campaign.launch"]
            .with_user(cls.manager)
            .create({"campaign_id": campaign.id, "confirm": True})
        )
        wizard.control_share = 0
        wizard.action_launch()
        member = {m.partner_id: m for m in campaign.member_ids}
        History = env["crm.lifecycle.history"].sudo()
        Interaction = env["crm.interaction"].sudo()
        phone = env.ref("crm_contact_center.channel_phone")
        email = env.ref("crm_contact_center.channel_email")
        mate_lead = env["crm.lead"].search([("partner_id", "=", mate.id)], limit=1)
        stage_a = (
            env["crm.lifecycle.stage"]
            .sudo()
            .create({"name": "Company A stage", "kind": "active", "company_id": cls.company.id})
        )
        channel_a = (
            env["crm.interaction.channel"]
            .sudo()
            .create({"name": "Company A line", "code": "scope_a", "company_id": cls.company.id})
        )
        base = {"company_id": cls.company.id, "channel_id": phone.id}
        cls.records = {
            "profile: own customer": Profile.search([("partner_id", "=", own.id)]),
            "profile: teammate's customer": Profile.search([("partner_id", "=", mate.id)]),
            "profile: company B customer": Profile.search([("partner_id", "=", foreign.id)]),
            "history: own customer": History.search([("partner_id", "=", own.id)], limit=1),
            "history: teammate's customer": History.search([("partner_id", "=", mate.id)], limit=1),
            "stage: shared": env.ref("crm_retention.stage_lost"),
            "stage: company A": stage_a,
            "channel: shared": phone,
            "channel: company A": channel_a,
            "interaction: own request": Interaction.create(
                {
                    **base,
                    "subject": "own",
                    "partner_id": own.id,
                    "user_id": cls.salesman.id,
                    "team_id": team.id,
                }
            ),
            "interaction: team request, unassigned": Interaction.create(
                {**base, "subject": "queue", "partner_id": mate.id, "team_id": team.id}
            ),
            "interaction: teammate's captured e-mail": Interaction.create(
                {
                    **base,
                    "channel_id": email.id,
                    "subject": "price",
                    "partner_id": mate.id,
                    "lead_id": mate_lead.id,
                    "user_id": cls.teammate.id,
                    "team_id": team.id,
                    "source_key": "mail.message",
                    "direction": "outbound",
                }
            ),
            "interaction: teammate's finished call": Interaction.create(
                {
                    **base,
                    "subject": "call notes",
                    "partner_id": mate.id,
                    "user_id": cls.teammate.id,
                    "team_id": team.id,
                    "state": "done",
                }
            ),
            "interaction: company B": Interaction.create(
                {"company_id": company_b.id, "channel_id": phone.id, "subject": "B"}
            ),
            "campaign: company A": campaign,
            "member: own customer": member[own],
            "member: own customer (protected fields)": member[own],
            "member: teammate's customer": member[mate],
        }
        for key, record in cls.records.items():
            assert len(record) == 1, f"fixture {key!r} has {len(record)} records"

    def _can(self, user, key, operation):
        record = (
            self.records[key].with_user(user).with_context(allowed_company_ids=[self.company.id])
        )
        if operation == "write" and key.endswith("(protected fields)"):
            try:
                with self.env.cr.savepoint():
                    record.write({"revenue": 987654})
                return True
            except AccessError:
                return False
        try:
            record.check_access(operation)
        except AccessError:
            return False
        return True

    def test_record_scopes(self):
        self.assertEqual(set(self.records), set(SCOPES))
        diff, current = [], {}
        for key, expected in SCOPES.items():
            cells = []
            for role, want in zip(SCOPE_ROLES, expected, strict=True):
                user = self.users[role]
                have = ("r" if self._can(user, key, "read") else "-") + (
                    "w" if self._can(user, key, "write") else "-"
                )
                cells.append(have)
                if have != want:
                    diff.append(f"~ {key} / {role}: expected {want}, actual {have}")
            current[key] = cells
        if diff:
            rows = "\n".join(
                f"    {key + ':':<46}({', '.join(repr(c) for c in cells)}),"
                for key, cells in current.items()
            )
            self.fail(
                f"{len(diff)} difference(s) with the record scopes:\n"
                + "\n".join(diff)
                + "\n\nSCOPES as the code stands (paste if the change is intended):\n"
                + rows
            )
