from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestContactCenterTour(HttpCase):
    def test_agent_calls_back_a_missed_call(self):
        """An agent takes a missed call from the queue, logs the callback, and
        the customer's timeline shows both."""
        agent = new_test_user(
            self.env,
            login="tour_agent",
            groups="sales_team.group_sale_salesman,base.group_partner_manager",
            name="Tour Agent",
        )
        team = self.env["crm.team"].create(
            {"name": "Tour Hotline", "member_ids": [(6, 0, agent.ids)]}
        )
        customer = self.env["res.partner"].create({"name": "Tour Customer", "is_company": True})
        missed = self.env["crm.interaction"].create(
            {
                "channel_id": self.env.ref("crm_contact_center.channel_phone").id,
                "partner_id": customer.id,
                "team_id": team.id,
                "state": "missed",
                "subject": "Missed call from Tour Customer",
            }
        )
        self.assertEqual(
            missed.activity_ids.user_id, agent, "a callback is scheduled for the agent"
        )
        self.start_tour(
            "/odoo/action-crm_contact_center.crm_interaction_action_queue",
            "crm_contact_center_callback_tour",
            login="tour_agent",
        )
        self.assertEqual((missed.state, missed.user_id), ("done", agent))
        self.assertFalse(missed.activity_ids, "the callback activity is done")
        callback = customer.interaction_ids - missed
        self.assertEqual(callback.subject, "Callback: quote promised for Friday")
        self.assertEqual((callback.direction, callback.user_id), ("outbound", agent))
        self.start_tour(
            f"/odoo/contacts/{customer.id}", "crm_contact_center_timeline_tour", login="tour_agent"
        )

    def test_agent_answers_a_chat_and_the_supervisor_sees_the_load(self):
        """An agent sees by when to answer a chat and replies to it (no "Log the
        Call" on a chat); the supervisor's queue shows a request no team was found
        for, and Load per Agent counts the open chat of the agent."""
        agent = new_test_user(
            self.env, login="chat_agent", groups="sales_team.group_sale_salesman",
            name="Chat Agent",
        )  # fmt: skip
        new_test_user(
            self.env, login="cc_tour_supervisor", name="Tour Supervisor",
            groups="sales_team.group_sale_salesman,crm_contact_center.group_contact_center_supervisor",
        )  # fmt: skip
        team = self.env["crm.team"].create({"name": "Chat Desk", "member_ids": [(6, 0, agent.ids)]})
        Interaction = self.env["crm.interaction"]
        chat = Interaction.create(
            {
                "channel_id": self.env.ref("crm_contact_center.channel_chat").id,
                "contact_name": "Website Visitor",
                "team_id": team.id,
                "user_id": agent.id,
                "subject": "Chat: is the blue model in stock?",
            }
        )
        self.assertTrue(chat.sla_deadline, "a chat gets an answer-by time")
        Interaction.create(
            {
                "channel_id": self.env.ref("crm_contact_center.channel_web").id,
                "contact_name": "Nobody's Lead",
                "subject": "Web form without a team",
                "team_id": False,
            }
        )
        self.start_tour(
            "/odoo/action-crm_contact_center.crm_interaction_action_queue",
            "crm_contact_center_chat_tour",
            login="chat_agent",
        )
        self.start_tour(
            "/odoo/action-crm_contact_center.crm_interaction_action_queue",
            "crm_contact_center_supervisor_tour",
            login="cc_tour_supervisor",
        )
