/** @odoo-module **/

import { registry } from "@web/core/registry";

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
            content: "the live count shows the matching customers",
            trigger: ".o_form_view .oe_stat_button:contains('Matching'):not(:contains('0 Matching'))",
        },
        {
            content: "open the offer",
            trigger: ".o_form_view .o_notebook a:contains('Offer')",
            run: "click",
        },
        {
            content: "a 10% discount",
            trigger: ".o_form_view .o_field_widget[name=offer_value] input",
            run: "edit 10",
        },
        {
            content: "launch",
            trigger: ".o_form_view .o_form_statusbar button[name=action_open_launch_wizard]",
            run: "click",
        },
        {
            content: "the wizard previews the customers",
            trigger: ".modal .o_field_widget[name=profile_ids] .o_data_row",
        },
        {
            content: "confirm",
            trigger: ".modal .o_field_widget[name=confirm] input",
            run: "click",
        },
        {
            content: "launch for real",
            trigger: ".modal button[name=action_launch]",
            run: "click",
        },
        {
            content: "the members list opens: look for one of the customers",
            trigger: ".o_list_view .o_data_row",
        },
        {
            content: "search the tour's customers",
            trigger: ".o_control_panel .o_searchview_input",
            run: "edit Tour lapsed",
        },
        {
            content: "validate the search",
            trigger: ".o_control_panel .o_searchview_input",
            run: "press Enter",
        },
        {
            content: "the members are listed with their first step scheduled",
            trigger: ".o_list_view .o_data_row:contains('Tour lapsed'):contains('Offer e-mail')",
        },
    ],
});
