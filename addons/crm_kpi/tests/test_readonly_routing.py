import logging

from lxml import etree

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

# every window action of these addons is a screen a manager reads
SUITE_MODULES = ("crm_retention", "crm_contact_center", "crm_kpi")


@tagged("post_install", "-at_install")
class TestReadOnlyRouting(HttpCase):
    """Every report, pivot, graph and list of the suite can be served by a
    PostgreSQL replica (Odoo 18 sends ``@api.readonly`` calls of
    ``/web/dataset/call_kw`` to ``db_replica_host``): each view of each of
    the suite's window actions is read through the real HTTP server the way
    the web client reads it, as a sales manager, and the server must answer
    it on a read-only cursor.

    The test server gives read-only routes a cursor in a ``READ ONLY``
    transaction, as a replica would: a report that wrote anything (a
    refresh on read, a temporary table, a stored compute) would fail there,
    and Odoo would log "retrying with a read/write cursor" and run it again
    on the primary. The test fails on that warning.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            login="ro_manager",
            password="ro_manager_pw",
            groups="sales_team.group_sale_manager",
            name="Rhea Only",
        )

    def _actions(self):
        """(xml id, action) of the suite's window actions on a model the
        manager may read."""
        data = self.env["ir.model.data"].search(
            [("module", "in", SUITE_MODULES), ("model", "=", "ir.actions.act_window")]
        )
        actions = []
        for xmlid in data:
            action = self.env["ir.actions.act_window"].browse(xmlid.res_id)
            Model = self.env.get(action.res_model)
            if Model is None or Model._transient:
                continue
            if not Model.with_user(self.manager).has_access("read"):
                continue
            actions.append((xmlid.complete_name, action))
        return actions

    def _calls(self, action):
        """The read calls the web client makes to open ``action``'s views:
        ``(method, args, kwargs)``."""
        Model = self.env[action.res_model].with_user(self.manager)
        context = {**action._get_eval_context(), "uid": self.manager.id}
        domain = safe_eval(action.domain or "[]", context)
        modes = [m for m in (action.view_mode or "").split(",") if m in ("list", "pivot", "graph")]
        calls = []
        for mode in modes:
            arch = etree.fromstring(Model.get_views([(False, mode)])["views"][mode]["arch"])
            fields = arch.xpath("./field")
            if mode == "list":
                spec = {f.get("name"): {} for f in fields if f.get("name") in Model._fields}
                calls.append(("web_search_read", [domain, spec], {"limit": 80}))
                continue
            groupby = [
                f.get("name") + (f":{f.get('interval')}" if f.get("interval") else "")
                for f in fields
                if f.get("type") in ("row", "col")
            ]
            measures = [
                f"{f.get('name')}:sum"
                for f in fields
                if f.get("type") == "measure" and f.get("name") in Model._fields
            ]
            for group in groupby or [None]:
                calls.append(
                    (
                        "web_read_group",
                        [domain, ["__count", *measures], [group] if group else []],
                        {"lazy": True},
                    )
                )
        return calls

    def test_every_report_is_served_read_only(self):
        self.authenticate("ro_manager", "ro_manager_pw")
        actions = self._actions()
        models = {action.res_model for _x, action in actions}
        # the screens the issue names are among them
        for model in (
            "crm.kpi.customer.report",
            "crm.kpi.cohort",
            "crm.kpi.deal.report",
            "crm.kpi.funnel.report",
            "crm.kpi.channel.report",
            "crm.kpi.campaign.report",
            "crm.customer.profile",
            "crm.lifecycle.history",
            "crm.interaction",
        ):
            self.assertIn(model, models)
        served = 0
        with self.assertNoLogs("odoo.http", logging.WARNING):
            for xmlid, action in actions:
                for method, args, kwargs in self._calls(action):
                    result = self.make_jsonrpc_request(
                        f"/web/dataset/call_kw/{action.res_model}/{method}",
                        {
                            "model": action.res_model,
                            "method": method,
                            "args": args,
                            "kwargs": {**kwargs, "context": {"lang": "en_US"}},
                        },
                    )
                    self.assertIsInstance(result, (dict, list), f"{xmlid} {method} {args}")
                    served += 1
        self.assertGreater(served, 20, "pivots, graphs and lists were all read")

    def test_a_write_through_a_report_is_refused_on_a_read_only_cursor(self):
        """What the replica does with a write: refuses it (the control of the
        test above: a write in a read-only route is noticed, not ignored)."""
        with self.env.registry.cursor(readonly=True) as cr:
            with self.assertRaisesRegex(Exception, "read-only transaction"):
                cr.execute("UPDATE crm_customer_profile SET write_date = now()")
