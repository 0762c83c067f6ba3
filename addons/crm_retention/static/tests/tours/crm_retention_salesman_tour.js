import {registry} from "@web/core/registry";

/**
 * A salesman with no customer of his own on the partners (only opportunities)
 * opens Retention > My Customers, finds the customer he sells to at risk,
 * plans a call, and sees the customer's lifecycle on his pipeline card.
 */
registry.category("web_tour.tours").add("crm_retention_salesman_tour", {
  steps: () => [
    {
      content: "My Customers lists the customer of his latest opportunity",
      trigger: ".o_list_view .o_data_row:contains('Tour At Risk Co')",
    },
    {
      content: "and only his: a colleague's customer is not there",
      trigger: ".o_list_view:not(:has(.o_data_row:contains('Colleague Customer')))",
    },
    {
      content: "plan a call from the row",
      trigger: ".o_data_row:contains('Tour At Risk Co') button[name]:contains('Schedule a Call')",
      run: "click",
    },
    {
      trigger: ".modal div[name=summary] input",
      run: "edit Ask why they stopped ordering",
    },
    {
      trigger: ".modal button[name=action_schedule]",
      run: "click",
    },
    {
      content: "the call is planned",
      trigger: "body:not(:has(.modal)) .o_notification:contains('1 call planned')",
    },
    {
      content: "open the pipeline",
      trigger: ".o_main_navbar .dropdown-toggle:contains('Sales')",
      run: "click",
    },
    {
      trigger: ".dropdown-menu a:contains('My Pipeline')",
      run: "click",
    },
    {
      content: "the card shows the customer's lifecycle stage and risk",
      trigger:
        ".o_kanban_record:contains('Tour renewal') div[name=customer_stage_id] .badge:contains('At risk')",
    },
  ],
});
