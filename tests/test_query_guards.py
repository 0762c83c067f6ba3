"""The screens people open all day cost the same number of queries whatever
the number of records they show: the Customers at Risk list (12 rows cost
what 3 do) and a customer's form (a long history costs what a short one
does). The fields read are those of the real views, as the web client asks
for them (``web_search_read`` / ``web_read`` with the views' fields)."""

from datetime import datetime, timedelta

from lxml import etree

from odoo.addons.crm_retention.tests.common import CampaignCase
from odoo.tests import tagged


def view_spec(model, view_type, xmlid=None):
    """The ``specification`` the web client sends for a view: every field of
    the view, a many2one with its display name, an x2many with the fields of
    its inline sub-view."""
    view_id = model.env.ref(xmlid).id if xmlid else False
    view = model.get_views([(view_id, view_type)])["views"][view_type]
    arch = etree.fromstring(view["arch"])

    def spec(node, comodel, parent=None):
        result = {}
        for field in node.iter("field"):
            # fields of a nested sub-view belong to that sub-view
            if next(field.iterancestors("field"), None) is not parent:
                continue
            name = field.get("name")
            definition = comodel._fields.get(name)
            if definition is None:
                continue
            if definition.type == "many2one":
                result[name] = {"fields": {"display_name": {}}}
            elif definition.type in ("one2many", "many2many"):
                sub = comodel.env[definition.comodel_name]
                inner = field.find("list")
                if inner is None:
                    inner = field.find("kanban")
                result[name] = {"fields": spec(inner, sub, field) if inner is not None else {}}
            else:
                result[name] = {}
        return result

    return spec(arch, model)


@tagged("post_install", "-at_install")
class TestScreenQueries(CampaignCase):
    def _queries(self, function):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        function()
        return self.env.cr.sql_log_count - before

    def test_customers_at_risk_list(self):
        Profile = self.env["crm.customer.profile"].with_user(self.salesman)
        spec = view_spec(Profile, "list")
        self.assertIn("churn_probability", spec)
        domain = [("stage_kind", "=", "at_risk")]

        def page():
            return Profile.web_search_read(domain, spec, limit=80)

        self._lapsed_customers(3, prefix="First")
        self._queries(page)  # the first read of a test fills caches
        small = self._queries(page)
        self.assertEqual(page()["length"], 3)
        self._lapsed_customers(9, prefix="More")
        large = self._queries(page)
        self.assertEqual(page()["length"], 12)
        self.assertEqual(large, small, "12 customers at risk cost the queries of 3")

    def test_customer_form(self):
        Partner = self.env["res.partner"].with_user(self.salesman)
        spec = view_spec(Partner, "form")
        for name in ("lifecycle_stage_id", "retention_churn_probability", "interaction_count"):
            self.assertIn(name, spec)
        self.assertIn("date", spec["interaction_timeline_ids"]["fields"])
        short, long_ = self._lapsed_customers(2, prefix="Form")
        channel = self.env.ref("crm_contact_center.channel_phone")
        for customer, count in ((short, 2), (long_, 15)):
            self.env["crm.interaction"].create(
                [
                    {
                        "channel_id": channel.id,
                        "partner_id": customer.id,
                        "date": datetime(2026, 5, 1) + timedelta(hours=i),
                        "direction": "outbound",
                        "state": "done",
                    }
                    for i in range(count)
                ]
            )
            self._deal(customer, 20)
        self._queries(lambda: Partner.browse(short.id).web_read(spec))  # warm the caches
        small = self._queries(lambda: Partner.browse(short.id).web_read(spec))
        large = self._queries(lambda: Partner.browse(long_.id).web_read(spec))
        self.assertEqual(large, small, "a long history costs the queries of a short one")
        self.assertEqual(Partner.browse(long_.id).interaction_count, 15)
