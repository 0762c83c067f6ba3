/** @odoo-module **/

import {registry} from "@web/core/registry";

/*
 * Every step waits for the outcome of the previous one (an onchange, a save,
 * an action) before acting, and the tour ends on a state that only exists
 * once the last request has answered: a step that acts while a request is in
 * flight, or a tour that ends with one pending, is what made this tour fail
 * under load. The tour's company holds exactly the ten customers of the test,
 * so the counts below do not depend on the random control draw.
 */
registry.category("web_tour.tours").add("crm_retention_campaign_tour", {
  steps: () => [
    {
      content: "create a campaign",
      trigger: ".o_control_panel .o-kanban-button-new, .o_control_panel .o_list_button_add",
      run: "click",
    },
    {
      content: "name it",
      trigger: ".o_form_view .o_field_widget[name=name] input",
      run: "edit Tour win-back",
    },
    {
      content: "objective: win back",
      trigger: ".o_form_view .o_field_widget[name=objective] select",
      run: "selectByLabel Win back",
    },
    {
      content: "the objective proposes the Lost stage: remove it",
      trigger: ".o_form_view .o_field_widget[name=stage_ids] .o_tag:contains('Lost') .o_delete",
      run: "click",
    },
    {
      content: "target At risk customers instead",
      trigger: ".o_form_view .o_field_widget[name=stage_ids] input",
      run: "edit At risk",
    },
    {
      content: "pick the At risk stage",
      trigger: ".o-autocomplete--dropdown-menu .dropdown-item:contains('At risk')",
      run: "click",
    },
    {
      content: "the live count shows the ten at-risk customers",
      trigger:
        ".o_form_view .oe_stat_button:contains('Matching') .o_stat_value:contains(/^\\s*10\\s*$/)",
    },
    {
      content: "open the offer",
      trigger: ".o_form_view .o_notebook .nav-link:contains('Offer')",
      run: "click",
    },
    {
      content: "a 10% discount",
      trigger: ".o_form_view .o_notebook .o_field_widget[name=offer_value] input",
      run: "edit 10",
    },
    {
      content: "launch",
      trigger: ".o_form_view .o_form_statusbar button[name=action_open_launch_wizard]",
      run: "click",
    },
    {
      content: "the wizard previews the customers",
      trigger: ".modal .o_crm_retention_launch_preview tbody tr:contains('Tour lapsed')",
    },
    {
      content: "Launch waits for the confirmation, which sits next to it",
      trigger:
        ".modal footer:has(.o_field_widget[name=confirm]):not(:has(button[name=action_launch]))",
    },
    {
      content: "hold out 10 % as the control group",
      trigger: ".modal .o_field_widget[name=control_share] input",
      run: "edit 10",
    },
    {
      content: "one control customer, nine to contact, the e-mail first",
      trigger:
        ".modal:has(.o_field_widget[name=control_count]:contains(/^\\s*1\\s*$/))" +
        ":has(.o_field_widget[name=treated_count]:contains(/^\\s*9\\s*$/))" +
        " .o_field_widget[name=first_step_summary]:contains('Offer e-mail')",
    },
    {
      content: "the preview marks the customer held out as control",
      trigger: ".modal .o_crm_retention_launch_preview tbody tr:contains('Control (held out)')",
    },
    {
      content: "confirm",
      trigger: ".modal .o_field_widget[name=confirm] input",
      run: "click",
    },
    {
      content: "launch for real",
      trigger: ".modal:has(.o_field_widget[name=confirm] input:checked) button[name=action_launch]",
      run: "click",
    },
    {
      content: "the members list opens with the first step scheduled for the treated ones",
      trigger:
        "body:not(:has(.modal)) .o_action_manager .o_list_view" +
        " .o_data_row:contains('Tour lapsed'):contains('Offer e-mail')",
    },
    {
      content: "search one customer",
      trigger: ".o_control_panel .o_searchview_input",
      run: "edit Tour lapsed 07",
    },
    {
      content: "validate the search",
      trigger: ".o_control_panel .o_searchview_input",
      run: "press Enter",
    },
    {
      content: "the search is applied",
      trigger: ".o_control_panel .o_searchview_facet:contains('Tour lapsed 07')",
    },
    {
      content: "only that customer is listed, with its group",
      trigger:
        ".o_list_view:not(:has(.o_data_row:not(:contains('Tour lapsed 07'))))" +
        " .o_data_row:contains('Tour lapsed 07'):contains(/Treated|Control/)",
    },
  ],
});
