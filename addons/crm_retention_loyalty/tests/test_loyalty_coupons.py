from odoo.addons.crm_retention.tests.common import TODAY, CampaignCase
from odoo.exceptions import AccessError
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestLoyaltyCoupons(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(4)

    def test_treated_members_get_single_use_coupons(self):
        campaign = self._campaign(
            control_share=0.25, offer_type="percentage", offer_value=10, offer_use_codes=True
        )
        members = self._launch(campaign)
        treated = members.filtered(lambda m: m.member_group == "treated")
        control = members - treated
        program = campaign.loyalty_program_id
        self.assertEqual(program.program_type, "coupons")
        self.assertEqual(program.company_id, self.company)
        self.assertEqual(
            (program.reward_ids.discount, program.reward_ids.discount_mode), (10, "percent")
        )
        self.assertFalse(program.communication_plan_ids, "the campaign sends the code itself")
        cards = program.coupon_ids
        self.assertEqual(cards.partner_id, treated.partner_id)
        self.assertEqual(set(cards.mapped("points")), {1})
        for member in treated:
            self.assertEqual(member.offer_code, member.loyalty_card_id.code)
            self.assertEqual(member.offer_expiry_date, member.loyalty_card_id.expiration_date)
        self.assertFalse(control.offer_code, "the control group receives nothing")
        # the code is what the offer e-mail prints
        self._run_steps()
        mail = self.env["mail.mail"].search(
            [("model", "=", self.Member._name), ("res_id", "=", treated[0].id)]
        )
        self.assertIn(treated[0].loyalty_card_id.code, mail.body_html)
        self.assertEqual(treated[0].enrol_date, TODAY)

    def test_offer_without_discount_keeps_campaign_codes(self):
        campaign = self._campaign(control_share=0.0, offer_type="points", offer_use_codes=True)
        members = self._launch(campaign)
        self.assertFalse(campaign.loyalty_program_id)
        self.assertTrue(members, "the campaign enrols its lapsed customers")
        self.assertTrue(all(m.offer_code and not m.loyalty_card_id for m in members))

    def test_salesman_cannot_take_another_members_coupon(self):
        """A salesperson edits its members, but not their coupon (issue 12)."""
        campaign = self._campaign(
            control_share=0.0, offer_type="percentage", offer_value=10, offer_use_codes=True
        )
        mine, other = self._launch(campaign).sudo()[:2]
        with self.assertRaises(AccessError):
            mine.with_user(self.salesman).write({"loyalty_card_id": other.loyalty_card_id.id})
        with self.assertRaises(AccessError):
            mine.with_user(self.salesman).write({"offer_code": other.offer_code})
        self.assertNotEqual(mine.loyalty_card_id, other.loyalty_card_id)
        self.assertEqual(mine.offer_code, mine.loyalty_card_id.code)
