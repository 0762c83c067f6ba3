import {registry} from "@web/core/registry";

const CARD = ".o_crm_cc_screen_pop:contains('Valuable Ltd')";

registry.category("web_tour.tours").add("crm_contact_center_screen_pop_tour", {
  steps: () => [
    {
      content: "The ringing call pops the caller's card",
      trigger: CARD,
    },
    {
      content: "The card says the customer is at risk",
      trigger: `${CARD} .o_crm_cc_screen_pop_stage:contains('At risk')`,
    },
    {
      content: "... and what the company stands to lose",
      trigger: `${CARD} .o_crm_cc_screen_pop_value_at_risk:contains('12,300')`,
    },
    {
      content: "... and the offer to make",
      trigger: `${CARD} .o_crm_cc_screen_pop_offer:contains('STAY-4242')`,
    },
    {
      content: "Open the customer",
      trigger: `${CARD} .o_crm_cc_screen_pop_open_customer`,
      run: "click",
    },
    {
      trigger: ".o_form_view .o_breadcrumb:contains('Valuable Ltd')",
    },
    {
      content: "The customer's phone has a Call button (click-to-dial)",
      trigger: ".o_form_view div[name=phone] button.o_crm_cc_dial",
    },
    {
      content: "Log the call",
      trigger: `${CARD} .o_crm_cc_screen_pop_log`,
      run: "click",
    },
    {
      trigger: ".modal div[name=subject] input",
      run: "edit Wants the 10% offer",
    },
    {
      trigger: ".modal button[name=action_log]",
      run: "click",
    },
    {
      content: "The card leaves once the call is logged",
      trigger: "body:not(:has(.o_crm_cc_screen_pop)):not(:has(.modal))",
    },
  ],
});
