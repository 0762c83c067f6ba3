/** @odoo-module **/

import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("crm_retention_pin_stage_tour", {
  steps: () => [
    {
      content: "the customer is New",
      trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('New')",
    },
    {
      content: "the churn probability is shown",
      trigger: ".o_form_view .oe_stat_button:contains('Churn Risk')",
    },
    {
      content: "pin the customer to Active",
      trigger: ".o_form_view .o_statusbar_status button:contains('Active')",
      run: "click",
    },
    {
      content: "the stage is now Active",
      trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Active')",
    },
    {
      content: "open the stage history",
      trigger: ".o_form_view .oe_stat_button:contains('Stage Changes')",
      run: "click",
    },
    {
      content: "the manual change is in the history",
      trigger:
        ".o_list_view .o_data_row:has(.o_data_cell:contains('Manual change')):has(.o_data_cell:contains('Active'))",
    },
  ],
});
