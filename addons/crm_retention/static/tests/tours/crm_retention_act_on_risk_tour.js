import {registry} from "@web/core/registry";

/**
 * A salesman opens Retention > My Customers at Risk: the customer with the
 * most money at stake comes first; he reads why it is at risk, sees the
 * offer the company's experiments recommend and the activity the nightly
 * run created for him.
 */
registry.category("web_tour.tours").add("crm_retention_act_on_risk_tour", {
  steps: () => [
    {
      content: "the most money at stake first",
      trigger: ".o_list_view .o_data_row:first-child:contains('Tour Big Spender')",
    },
    {
      content: "the smaller customer below it",
      trigger: ".o_list_view .o_data_row:nth-child(2):contains('Tour Small Spender')",
    },
    {
      content: "the reason is in the list",
      trigger: ".o_data_row:first-child td[name=risk_reason]:contains('Buys every 30 days')",
    },
    {
      content: "open the customer",
      trigger: ".o_data_row:first-child td[name=partner_id]",
      run: "click",
    },
    {
      content: "why, with the figures",
      trigger: ".o_form_view div[name=risk_reason_alert]:contains('days since the last deal')",
    },
    {
      content: "the recommended offer",
      trigger: ".o_form_view div[name=recommended_offer_label]:contains('Percentage discount')",
    },
    {
      content: "and its evidence",
      trigger: ".o_form_view div[name=recommendation_evidence]:contains('over the control group')",
    },
    {
      content: "the activity the nightly run planned for him",
      trigger: ".o-mail-Activity:contains('At risk'), .o-mail-Activity:contains('Lost')",
    },
  ],
});
