import {describe, expect, test} from "@odoo/hoot";
import {click} from "@odoo/hoot-dom";
import {animationFrame} from "@odoo/hoot-mock";
import {mountWithCleanup} from "@web/../tests/web_test_helpers";
import {defineMailModels} from "@mail/../tests/mail_test_helpers";
import {ScreenPopCard} from "@crm_contact_center/screen_pop/screen_pop_card";

describe.current.tags("desktop");
defineMailModels();

const KNOWN = {
  id: 7,
  call_id: "call-7",
  channel: "Phone",
  state: "assigned",
  date: "2026-06-01 09:00:00",
  caller_name: "Valuable Ltd",
  caller_phone: "+3225551234",
  partner_id: 42,
  partner_name: "Valuable Ltd",
  company_name: false,
  photo_url: "/web/image/res.partner/42/avatar_128",
  opportunity_id: false,
  opportunity_name: false,
  lead_id: false,
  history: [
    {
      id: 3,
      date: "2026-05-20 10:00:00",
      channel: "E-mail",
      summary: "Invoice question",
      state: "done",
      state_label: "Done",
    },
  ],
  facts: {
    stage: "At risk",
    stage_kind: "at_risk",
    p_alive: 0.34,
    value_at_risk: 12300,
    value_at_risk_display: "12,300 €",
    offer: "10% discount",
    offer_code: "STAY-4242",
  },
};

async function mountCard(card, rights = {salesman: true, contacts: true}) {
  const calls = [];
  let dismissed = false;
  await mountWithCleanup(ScreenPopCard, {
    props: {
      card,
      rights,
      onDismiss: () => (dismissed = true),
      run: (c, method) => calls.push([c.id, method]),
    },
  });
  return {calls, isDismissed: () => dismissed};
}

test("a known caller's card shows the customer, his figures and history", async () => {
  const {calls, isDismissed} = await mountCard(KNOWN);
  expect(".o_crm_cc_screen_pop_caller").toHaveText("Valuable Ltd");
  expect(".o_crm_cc_screen_pop_stage").toHaveText("At risk");
  expect(".o_crm_cc_screen_pop_stage").toHaveClass("text-bg-warning");
  expect(".o_crm_cc_screen_pop_p_alive").toHaveText("Chance still active: 34 %");
  expect(".o_crm_cc_screen_pop_value_at_risk").toHaveText(/12,300/);
  expect(".o_crm_cc_screen_pop_offer").toHaveText(/STAY-4242/);
  expect(".o_crm_cc_screen_pop_history li").toHaveCount(1);
  expect(".o_crm_cc_screen_pop_history li").toHaveText(/Invoice question/);
  expect(".o_crm_cc_screen_pop_create_contact").toHaveCount(0);
  expect(".o_crm_cc_screen_pop_opportunity").toHaveText("Create Opportunity");

  await click(".o_crm_cc_screen_pop_open_customer");
  await click(".o_crm_cc_screen_pop_opportunity");
  await click(".o_crm_cc_screen_pop_log");
  await animationFrame();
  expect(calls).toEqual([
    [7, "action_screen_pop_open_customer"],
    [7, "action_screen_pop_opportunity"],
    [7, "action_log_interaction"],
  ]);
  await click(".o_crm_cc_screen_pop_dismiss");
  expect(isDismissed()).toBe(true);
});

test("an unknown caller's card offers to create a contact or a lead", async () => {
  const unknown = {
    ...KNOWN,
    caller_name: "+3225557777",
    partner_id: false,
    partner_name: false,
    photo_url: false,
    history: [],
    facts: {},
  };
  const {calls} = await mountCard(unknown);
  expect(".o_crm_cc_screen_pop_facts").toHaveCount(0);
  expect(".o_crm_cc_screen_pop_open_customer").toHaveCount(0);
  await click(".o_crm_cc_screen_pop_create_contact");
  await click(".o_crm_cc_screen_pop_create_lead");
  await animationFrame();
  expect(calls.map((c) => c[1])).toEqual([
    "action_screen_pop_create_contact",
    "action_screen_pop_create_lead",
  ]);
});

test("an agent without sales rights gets no opportunity or lead buttons", async () => {
  await mountCard({...KNOWN, partner_id: false}, {salesman: false, contacts: false});
  expect(".o_crm_cc_screen_pop_opportunity").toHaveCount(0);
  expect(".o_crm_cc_screen_pop_create_lead").toHaveCount(0);
  expect(".o_crm_cc_screen_pop_create_contact").toHaveCount(0);
  expect(".o_crm_cc_screen_pop_log").toHaveCount(1);
});
