import re
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged

from ..recompute.layout import CAMPAIGN_LOCK_KEY
from .common import TODAY, CampaignCase, extra_deals, foreign_currency


@tagged("post_install", "-at_install")
class TestCampaignTargeting(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.at_risk = cls._lapsed_customers(6)
        cls.lost = cls._lapsed_customers(3, prefix="Lost", days_ago=300)
        cls.active = cls._customer("Happy buyer")
        cls._deal(cls.active, 60)
        cls._deal(cls.active, 5)

    def test_objective_proposes_stages_and_offer(self):
        form = Form(self.Campaign.with_user(self.manager))
        form.name = "Keep them"
        form.objective = "win_back"
        campaign = form.save()
        self.assertEqual(campaign.stage_ids, self.stage["lost"])
        self.assertEqual(campaign.target_count, 3)
        self.assertEqual(
            (campaign.offer_type, campaign.offer_value, campaign.outcome_days),
            ("percentage", 15, 120),
        )
        with Form(campaign) as form:
            form.objective = "retain"
        self.assertEqual(campaign.stage_ids, self.stage["at_risk"])
        self.assertEqual(campaign.target_count, 6)
        self.assertEqual(
            campaign.step_ids.mapped("action"), ["email", "activity"], "usual sequence proposed"
        )

    def test_domain_narrows_the_target_and_preview_lists_it(self):
        for profile in self.at_risk[:2].mapped(lambda p: self._profile(p)):
            profile.sudo().predicted_clv = 5000
        campaign = self._campaign(target_domain="[('predicted_clv', '>', 1000)]")
        self.assertEqual(campaign.target_count, 2)
        action = campaign.action_preview_targets()
        previewed = self.env["crm.customer.profile"].search(action["domain"])
        self.assertEqual(previewed.partner_id, self.at_risk[:2])
        with self.assertRaises(ValidationError):
            campaign.target_domain = "[('no_such_field', '=', 1)]"

    def test_empty_target_is_refused(self):
        campaign = self._campaign(target_domain="[('won_revenue', '>', 1000000000)]")
        with self.assertRaisesRegex(UserError, "No customer matches the target"):
            self._launch(campaign)
        self.assertEqual(campaign.state, "draft")
        self.assertFalse(campaign.member_ids)

    def test_opted_out_and_blacklisted_are_excluded_with_reason(self):
        self.at_risk[0].retention_opt_out = True
        self.env["mail.blacklist"].sudo()._add(self.at_risk[1].email)
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        excluded = members.filtered(lambda m: m.member_group == "excluded")
        self.assertEqual(excluded.partner_id, self.at_risk[:2])
        self.assertEqual(
            set(excluded.mapped("exclusion_reason")),
            {"Opted out of retention campaigns", "E-mail address blacklisted"},
        )
        self._run_steps()
        self.assertFalse(
            self.env["mail.mail"].search(
                [("res_id", "in", excluded.ids), ("model", "=", self.Member._name)]
            )  # fmt: skip
        )
        self.assertEqual(campaign.treated_count, 4)

    def test_customer_matching_two_campaigns(self):
        first = self._campaign(name="First")
        self._launch(first)
        # same objective: the running campaign keeps its customers
        second = self._campaign(name="Second")
        self.assertEqual(second.target_count, 0)
        with self.assertRaises(UserError):
            self._launch(second)
        # a non-exclusive campaign may enrol them again
        third = self._campaign(name="Third", exclusive_objective=False)
        self.assertEqual(third.target_count, 6)
        # another objective is another story
        fourth = self._campaign(name="Fourth", objective="win_back")
        self.assertEqual(fourth.target_count, 3)
        # once the first one is done its customers are free again
        first.action_done()
        self.assertEqual(second.target_count, 6)


@tagged("post_install", "-at_install")
class TestCampaignControlGroup(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(200)

    def test_control_group_is_reproducible_and_respects_the_share(self):
        campaign = self._campaign(control_share=0.1, random_seed=99)
        members = self._launch(campaign)
        control = members.filtered(lambda m: m.member_group == "control").partner_id
        self.assertEqual(len(control), 20, "exactly 10% of 200 held out at launch")
        self.assertFalse(
            self.env["crm.retention.campaign.step.execution"].search(
                [("member_id.member_group", "=", "control")]
            ),
        )
        # same seed and customers, another campaign (non exclusive): same split
        again = self._campaign(control_share=0.1, random_seed=99, exclusive_objective=False)
        again_control = (
            self._launch(again).filtered(lambda m: m.member_group == "control").partner_id
        )
        self.assertEqual(again_control, control)
        # another seed: another split of the same size
        other = self._campaign(control_share=0.1, random_seed=7, exclusive_objective=False)
        other_control = (
            self._launch(other).filtered(lambda m: m.member_group == "control").partner_id
        )
        self.assertEqual(len(other_control), 20)
        self.assertNotEqual(other_control, control)

    def test_continuous_enrolment_keeps_the_share_on_average(self):
        # launched on a subset, the cron then enrols newcomers one by one
        campaign = self._campaign(
            control_share=0.25,
            enrolment_mode="continuous",
            target_domain=f"[('partner_id', 'in', {self.customers[:20].ids})]",
        )
        self._launch(campaign)
        campaign.target_domain = "[]"
        self.env["crm.retention.campaign"]._cron_run()
        members = campaign.member_ids
        self.assertEqual(len(members), 200)
        newcomers = members.filtered(lambda m: m.partner_id in self.customers[20:])
        share = len(newcomers.filtered(lambda m: m.member_group == "control")) / len(newcomers)
        # 180 Bernoulli(0.25) draws: 3 standard errors is about 0.097
        self.assertAlmostEqual(share, 0.25, delta=0.1)
        # a second run enrols nobody twice
        self.env["crm.retention.campaign"]._cron_run()
        self.assertEqual(len(campaign.member_ids), 200)

    def test_a_run_started_while_another_goes_on_is_skipped(self):
        """Two runs of the campaigns at once (the cron started by hand while
        the scheduled one works) would enrol and message the same customers
        twice: the second one finds the first one's lock and does nothing."""
        campaign = self._campaign(
            control_share=0.25,
            enrolment_mode="continuous",
            target_domain=f"[('partner_id', 'in', {self.customers[:20].ids})]",
        )
        self._launch(campaign)
        campaign.target_domain = "[]"
        enrolled = len(campaign.member_ids)
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, 0)", [CAMPAIGN_LOCK_KEY])
            self.env["crm.retention.campaign"]._cron_run()
            self.assertEqual(len(campaign.member_ids), enrolled, "skipped: the other run works")
            other.rollback()
        self.env["crm.retention.campaign"]._cron_run()
        self.assertEqual(len(campaign.member_ids), 200)


@tagged("post_install", "-at_install")
class TestCampaignSteps(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(5)

    def _mails(self, members):
        return self.env["mail.mail"].search(
            [("model", "=", self.Member._name), ("res_id", "in", members.ids)]
        )

    def test_launch_queries_do_not_grow_with_the_target(self):
        """A launch (target, control draw, members, offer codes, first
        steps) costs the same number of queries for 3 customers as for 15."""

        def launch(customers, clv):
            self.Profile.sudo().search([("partner_id", "in", customers.ids)]).predicted_clv = clv
            campaign = self._campaign(
                control_share=0.25,
                offer_use_codes=True,
                target_domain=f"[('predicted_clv', '=', {clv})]",
            )
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            members = self._launch(campaign)
            self.assertEqual(len(members), len(customers))
            treated = members.filtered(lambda m: m.member_group == "treated")
            self.assertTrue(treated and all(treated.mapped("offer_code")))
            return self.env.cr.sql_log_count - before

        launch(self._lapsed_customers(2, prefix="Warm"), 7000)  # the first launch fills caches
        small = launch(self._lapsed_customers(3, prefix="Small"), 7001)
        large = launch(self._lapsed_customers(15, prefix="Large"), 7002)
        self.assertEqual(large, small, "launching 15 customers costs what launching 3 does")

    def test_email_step_queued_once_even_when_rerun(self):
        campaign = self._campaign(control_share=0.0, offer_use_codes=True, offer_code_prefix="wb-")
        members = self._launch(campaign)
        self.assertEqual(set(members.mapped("next_step_date")), {TODAY})
        self.assertTrue(members, "the campaign enrols its lapsed customers")
        self.assertTrue(all(m.offer_code.startswith("WB-") for m in members))
        self._run_steps()
        mails = self._mails(members)
        self.assertEqual(len(mails), 5)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "through the mail queue")
        self.assertIn(
            members[0].offer_code, mails.filtered(lambda m: m.res_id == members[0].id).body_html
        )
        self.assertEqual(set(members.mapped("state")), {"contacted"})
        # an interrupted run is re-run on the same members: nothing is sent twice
        members.write({"next_step_id": campaign.step_ids[0].id, "next_step_date": TODAY})
        self._run_steps()
        self.assertEqual(len(self._mails(members)), 5)
        # the follow-up call is scheduled a week later for the salesperson
        self.assertEqual(set(members.mapped("next_step_date")), {TODAY + timedelta(days=7)})

    def test_pause_then_resume_sends_nothing_twice(self):
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        self._run_steps()
        campaign.with_user(self.manager).action_pause()
        later = TODAY + timedelta(days=8)
        with freeze_time(later):
            self._run_steps(today=later)
            self.assertFalse(members.activity_ids, "a paused campaign sends nothing")
            campaign.with_user(self.manager).action_resume()
            self._run_steps(today=later)
            self._run_steps(today=later)
        calls = members.activity_ids
        self.assertEqual(len(calls), 5)
        self.assertEqual(calls.user_id, self.salesman, "the customer's salesperson calls")
        self.assertEqual(len(self._mails(members)), 5)
        log = self.env["crm.retention.campaign.step.execution"].search(
            [("campaign_id", "=", campaign.id)]
        )
        self.assertEqual(len(log), 10)
        # the salesperson sees its campaign tasks among its activities
        self.assertEqual(
            self.env["mail.activity"]
            .with_user(self.salesman)
            .search([("res_model", "=", self.Member._name), ("user_id", "=", self.salesman.id)]),
            calls,
        )

    def test_no_response_condition_skips_responders(self):
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        self._run_steps()
        # a reply to the campaign e-mail lands on the member's thread
        members[0].message_post(
            body="Interested!", message_type="email", author_id=members[0].partner_id.id
        )
        self.assertEqual(members[0].state, "responded")
        self._run_steps(today=TODAY + timedelta(days=7))
        log = members[0].execution_ids.filtered(lambda e: e.channel == "activity")
        self.assertEqual((log.state, log.reason), ("skipped", "Customer already responded"))
        self.assertEqual(len(members[1:].activity_ids), 4)

    def test_missing_template_and_missing_email_do_not_stop_the_campaign(self):
        self.customers[0].email = False
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        self._run_steps()
        no_email = members.filtered(lambda m: m.partner_id == self.customers[0])
        self.assertEqual(no_email.last_issue, "Customer has no valid e-mail address")
        self.assertEqual(no_email.state, "targeted")
        self.assertEqual(len(self._mails(members)), 4)
        # the chain goes on: the call still reaches it
        self._run_steps(today=TODAY + timedelta(days=7))
        self.assertTrue(no_email.activity_ids)
        self.assertEqual(no_email.state, "contacted")
        # a step whose template was deleted: logged as failed, others go on
        other = self._campaign(control_share=0.0, exclusive_objective=False)
        other.step_ids[0].mail_template_id = False
        others = self._launch(other)
        self._run_steps()
        self.assertEqual(
            set(others.mapped("last_issue")), {"Step Offer e-mail has no e-mail template"}
        )
        self.assertEqual(set(others.mapped("next_step_id")), {other.step_ids[1]})

    def test_archived_customer_mid_campaign_is_skipped_but_measured(self):
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        self.customers[1].action_archive()
        self._run_steps()
        archived = members.filtered(lambda m: m.partner_id == self.customers[1])
        self.assertEqual(archived.execution_ids.reason, "Customer archived")
        self.assertEqual(len(self._mails(members)), 4)
        self.assertEqual(campaign.treated_count, 5, "still counted: intention to treat")

    def test_sms_step_goes_through_the_sms_queue(self):
        for partner in self.customers:
            partner.phone = "+32 456 00 11 22"
        campaign = self._campaign(control_share=0.0)
        campaign.step_ids[0].write(
            {
                "action": "sms",
                "sms_template_id": self.env.ref("crm_retention.sms_template_campaign_offer").id,
            }
        )
        members = self._launch(campaign)
        self._run_steps()
        sms = members.execution_ids.sms_id
        self.assertEqual(len(sms), 5)
        self.assertEqual(set(sms.mapped("state")), {"outgoing"})
        self.assertEqual(set(sms.mapped("number")), {"+32456001122"})
        self.assertIn("Retention Test Co", sms[0].body)

    def test_opt_out_stops_the_steps(self):
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        members[0].with_user(self.salesman).action_opt_out()
        self._run_steps()
        self.assertEqual(members[0].state, "opted_out")
        self.assertFalse(members[0].execution_ids)
        self.assertTrue(members[0].partner_id.retention_opt_out)
        # the customer shows who opted it out and when
        self.assertEqual(members[0].partner_id.retention_opt_out_origin, "manual")
        self.assertTrue(members[0].partner_id.retention_opt_out_date)
        self.assertEqual(len(self._mails(members)), 4)


@tagged("post_install", "-at_install")
class TestCampaignOutcome(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(4)

    def _win(self, partner, day, amount=800.0, skip_refresh=False, **vals):
        # skip_refresh: a deal the incremental refresh misses (an import, a
        # direct SQL load), left to the nightly full recompute
        Lead = self.env["crm.lead"].with_context(lifecycle_skip_refresh=skip_refresh)
        with freeze_time(day):
            return Lead.create(
                {
                    "name": f"{partner.name} comeback",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "company_id": self.company.id,
                    "user_id": self.salesman.id,
                    "stage_id": self.won_stage.id,
                    "expected_revenue": amount,
                    "date_closed": datetime.combine(day, datetime.min.time()) + timedelta(hours=9),
                    **vals,
                }
            )

    def test_deal_in_window_retains_and_moves_stage_with_campaign_reason(self):
        # the incremental path: winning the lead refreshes the customer at
        # once (_recompute_partners, the recompute's batch statement)
        campaign = self._campaign(control_share=0.0, offer_type="percentage", offer_value=10,
                                  cost_per_member=5)  # fmt: skip
        members = self._launch(campaign)
        self._run_steps()
        member = members.filtered(lambda m: m.partner_id == self.customers[0])
        self.assertEqual(member.stage_id, self.stage["at_risk"])
        self._win(self.customers[0], TODAY + timedelta(days=20))
        self.assertEqual(
            (member.state, member.retained_date), ("retained", TODAY + timedelta(days=20))
        )
        self.assertEqual(member.revenue, 800)
        self.assertEqual(member.cost, 5 + 80, "contact cost plus the 10% discount")
        profile = self._profile(self.customers[0])
        self.assertEqual(profile.stage_id, self.stage["won_back"])
        last = profile.history_ids.sorted("id")[-1]
        self.assertEqual((last.stage_id, last.reason), (self.stage["won_back"], "campaign"))
        self.assertFalse(member.next_step_id, "no more steps for a retained customer")

    def test_comeback_found_by_full_recompute_is_credited_to_campaign(self):
        # the nightly path: deals the incremental refresh did not see (an
        # import) are found by the full recompute, whose batch statement
        # writes the history itself
        campaign = self._campaign(control_share=0.5)
        members = self._launch(campaign)
        self._run_steps()
        treated = members.filtered(lambda m: m.member_group == "treated")[0]
        control = members.filtered(lambda m: m.member_group == "control")[0]
        self.assertTrue(treated.contacted_date)
        day = TODAY + timedelta(days=20)
        for member in treated | control:
            self._win(member.partner_id, day, skip_refresh=True)
        self.assertEqual(treated.profile_id.stage_id, self.stage["at_risk"], "not refreshed yet")
        model = self.env["crm.retention.model"].sudo()._get_for_company(self.company)
        with freeze_time(day):
            # the "Recompute now" button, then the worker it wakes: the batch
            # statement writes the stages
            model.with_user(self.manager).action_recompute()
            model._cron_recompute_requested()
        for member, reason in ((treated, "campaign"), (control, "rule")):
            profile = member.profile_id
            self.assertEqual(profile.stage_id, self.stage["won_back"])
            last = profile.history_ids.sorted("id")[-1]
            self.assertEqual((last.stage_id, last.reason), (self.stage["won_back"], reason))
        note = treated.partner_id.message_ids.sorted("id")[-1]
        [shown] = note.sudo().tracking_value_ids._tracking_value_format()
        self.assertIn(
            "Campaign", shown["changedField"], "the chatter note credits the campaign too"
        )

    def test_control_member_measured_the_same_but_not_credited(self):
        campaign = self._campaign(control_share=0.5)
        members = self._launch(campaign)
        control = members.filtered(lambda m: m.member_group == "control")[0]
        self._run_steps()
        self._win(control.partner_id, TODAY + timedelta(days=3))
        self.assertEqual(control.state, "retained")
        last = control.profile_id.history_ids.sorted("id")[-1]
        self.assertEqual(last.reason, "rule", "the campaign did not contact it")
        self.assertEqual(control.cost, 0)

    def test_deal_on_the_last_day_of_the_window(self):
        campaign = self._campaign(control_share=0.0, outcome_days=30)
        members = self._launch(campaign)
        last_day = TODAY + timedelta(days=30)
        self.assertEqual(set(members.mapped("window_end_date")), {last_day})
        on_time, late = self.customers[0], self.customers[1]
        self._win(on_time, last_day)
        self._win(late, last_day + timedelta(days=1))
        with freeze_time(last_day + timedelta(days=1)):
            members._refresh_outcomes(self.company, today=last_day + timedelta(days=1))
        by_partner = {m.partner_id: m for m in members}
        self.assertEqual(by_partner[on_time].state, "retained")
        self.assertEqual(by_partner[late].state, "not_retained")
        self.assertTrue(by_partner[late].outcome_final)
        self.assertEqual(by_partner[late].revenue, 0)

    def test_revenue_in_another_currency_is_converted(self):
        """A deal source in another currency (as a sale order bridge gives)
        is converted to the company currency at the deal date."""
        other = foreign_currency(self.company, {TODAY: 0.5})
        day = TODAY + timedelta(days=10)
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        partner = self.customers[2]
        with extra_deals(self.env, [(partner, self.company, day, 500.0, other)]):
            members._refresh_outcomes(self.company, today=day)
        member = members.filtered(lambda m: m.partner_id == partner)
        self.assertEqual(member.state, "retained")
        self.assertAlmostEqual(member.revenue, 1000.0, places=2, msg="500 at 0.5 per unit")

    def test_merge_mid_campaign_keeps_the_member(self):
        campaign = self._campaign(control_share=0.0)
        members = self._launch(campaign)
        src, dst = self.customers[0], self._customer("New legal entity")
        self._deal(dst, 400)
        member = members.filtered(lambda m: m.partner_id == src)
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((src | dst).ids, dst)
        self.assertEqual(member.partner_id, dst)
        self.assertEqual(member.profile_id, self._profile(dst))
        self._run_steps()
        self.assertEqual(member.state, "contacted")
        self._win(dst, TODAY + timedelta(days=5))
        self.assertEqual(member.state, "retained")

    def test_results_and_done_when_windows_close(self):
        campaign = self._campaign(control_share=0.25, outcome_days=30, date_end=TODAY,
                                  cost_per_member=10)  # fmt: skip
        members = self._launch(campaign)
        self._run_steps()
        treated = members.filtered(lambda m: m.member_group == "treated")
        self.assertEqual(len(treated), 3)
        self._win(treated[0].partner_id, TODAY + timedelta(days=3), amount=1200)
        end = TODAY + timedelta(days=31)
        with freeze_time(end):
            self.env["crm.retention.campaign"]._cron_run()
        self.assertEqual(campaign.state, "done")
        self.assertEqual((campaign.treated_count, campaign.control_count), (3, 1))
        self.assertAlmostEqual(campaign.treated_rate, 1 / 3)
        self.assertEqual(campaign.control_rate, 0)
        self.assertAlmostEqual(campaign.uplift_pp, 33.3, places=1)
        self.assertEqual(campaign.significance, "too_small")
        self.assertEqual(campaign.retained_revenue, 1200)
        self.assertIn("Offer e-mail", campaign.results_by_step_html)
        # what the manager reads: a verdict, an unproven ROI, money over budget
        self.assertEqual(campaign.verdict_kind, "not_proven")
        self.assertIn("+33.3 pp", campaign.verdict)
        self.assertIn("1 customers in the smaller group are too few", campaign.verdict)
        campaign.budget = 10
        campaign.invalidate_recordset(["over_budget"])
        self.assertTrue(campaign.over_budget, "30 spent against a budget of 10")
        self.assertEqual(campaign.target_summary, "4 customers (at launch)")

    def test_verdict_when_the_uplift_is_proven(self):
        campaign = self._campaign()
        reading = {"kind": "proven", "uplift_pp": 8.94, "kept": 17, "needed": None, "smaller": 900}
        campaign._set_verdict(reading)
        self.assertEqual(
            campaign.verdict, "Proven: +8.9 pp more customers kept, about 17 customers"
        )


@tagged("post_install", "-at_install")
class TestLaunchWizard(CampaignCase):
    """The last look before launching shows the whole target and the groups
    the launch will really make."""

    def test_preview_counts_all_and_marks_the_groups_the_launch_makes(self):
        customers = self._lapsed_customers(95)
        customers[:2].write({"retention_opt_out": True})
        campaign = self._campaign(control_share=0.2)
        wizard = (
            self.env["crm.retention.campaign.launch"]
            .with_user(self.manager)
            .create({"campaign_id": campaign.id})
        )
        self.assertEqual(wizard.match_count, 95)
        self.assertIn("first 80 of 95", wizard.preview_note)
        labels = {"Contacted": "treated", "Control (held out)": "control", "Excluded": "excluded"}
        rows = re.findall(
            r"<td>(At risk \d+)</td>.*?rounded-pill [\w-]+\">([^<]+)</span>",
            str(wizard.preview_html),
        )
        self.assertEqual(len(rows), 80, "the first 80 rows, each with its group")
        wizard.confirm = True
        wizard.action_launch()
        members = campaign.member_ids
        self.assertEqual(len(members), 95, "the launch enrols every matching customer")
        group_of = {m.partner_id.name: m.member_group for m in members}
        self.assertEqual(
            {name: labels[label] for name, label in rows},
            {name: group_of[name] for name, _label in rows},
            "the preview shows the very groups the launch makes",
        )
        self.assertEqual(
            {labels[label] for _name, label in rows}, {"treated", "control", "excluded"}
        )

    def test_warns_when_follow_ups_would_go_to_nobody(self):
        customers = self._lapsed_customers(5)
        # nobody looks after them: no salesperson, nor on their opportunities
        customers.write({"user_id": False})
        self.env["crm.lead"].search([("partner_id", "in", customers.ids)]).write(
            {"user_id": False, "company_id": self.company.id}
        )
        self.assertFalse(self.Profile.search([("partner_id", "in", customers.ids)]).user_id)
        campaign = self._campaign(user_id=False)
        campaign.step_ids.filtered(lambda s: s.action == "activity").activity_user = "salesperson"
        self.assertTrue(campaign.step_ids.filtered(lambda s: s.action == "activity"))
        wizard = (
            self.env["crm.retention.campaign.launch"]
            .with_user(self.manager)
            .create({"campaign_id": campaign.id, "control_share": 0.0})
        )
        self.assertEqual((wizard.match_count, wizard.nobody_count), (5, 5))
        campaign.user_id = self.manager
        wizard.invalidate_recordset()
        self.assertEqual(wizard.nobody_count, 0)


@tagged("post_install", "-at_install")
class TestAddToCampaign(CampaignCase):
    def test_manager_adds_picked_customers_to_a_running_campaign(self):
        first = self._lapsed_customers(3, prefix="First")
        campaign = self._campaign(control_share=0.0)
        self._launch(campaign)
        picked = self._lapsed_customers(2, prefix="Picked", days_ago=300)
        profiles = self.Profile.search([("partner_id", "in", (picked | first[:1]).ids)])
        Wizard = self.env["crm.customer.profile.campaign"]
        Wizard.with_user(self.manager).create(
            {"profile_ids": [(6, 0, profiles.ids)], "campaign_id": campaign.id}
        ).action_add()
        self.assertEqual(campaign.member_ids.partner_id, first | picked, "nobody twice")
        with self.assertRaises(AccessError):
            Wizard.with_user(self.salesman).create(
                {"profile_ids": [(6, 0, profiles.ids)], "campaign_id": campaign.id}
            )
