import {registry} from "@web/core/registry";

const ROW = ".o_list_view .o_data_row:contains('Acme Customer')";

registry.category("web_tour.tours").add("crm_contact_center_call_from_list_tour", {
  steps: () => [
    {
      content: "Look the customer up in the contacts list",
      trigger: ".o_list_view .o_searchview_input",
      run: "edit Acme Customer",
    },
    {
      trigger: ".o_list_view .o_searchview_input",
      run: "press Enter",
    },
    {
      trigger: ".o_control_panel .o_searchview_facet:contains('Acme Customer')",
    },
    {
      content: "Call the customer from the list, without opening the record",
      trigger: `${ROW} .o_crm_cc_dial`,
      run: "click",
    },
    {
      content: "The PBX rings the agent's phone",
      trigger: ".o_notification:contains('Calling +3225551234')",
    },
    {
      content: "Still on the list: the next customer is one click away",
      trigger: ROW,
    },
  ],
});
