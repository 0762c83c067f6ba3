"""The suite's access matrix: which role may read, write, create and delete
each model of the four addons, checked against ONE table (``MATRIX``).

docs/ACCESS.md is the same table in prose, with the record-rule scope of
each right (own / team / company / all). Run::

    tools/suite.py test tests/test_access_matrix.py

On a mismatch the test fails with the list of differences and the rows of
the table as they should read for the current code, ready to paste.
"""

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
    "crm.lifecycle.history":                 ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
    "crm.lifecycle.stage":                   ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign":                ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.launch":         ("----", "----", "rwcd", "----", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.member":         ("rw--", "rw--", "rwcd", "rw--", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.step":           ("r---", "r---", "rwcd", "r---", "rwcd", "----", "----", "rwcd"),
    "crm.retention.campaign.step.execution": ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
    "crm.retention.model":                   ("r---", "r---", "r---", "r---", "r---", "----", "----", "r---"),
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
