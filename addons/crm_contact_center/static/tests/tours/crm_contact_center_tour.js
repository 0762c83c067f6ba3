import { registry } from "@web/core/registry";

const CARD = ".o_kanban_record:contains('Missed call from Tour Customer')";

registry.category("web_tour.tours").add("crm_contact_center_callback_tour", {
    url: "/odoo/action-crm_contact_center.crm_interaction_action_queue",
    steps: () => [
        {
            content: "Take the missed call from the queue",
            trigger: `${CARD} button[name=action_take]`,
            run: "click",
        },
        {
            content: "The request is now in progress",
            trigger: `.o_kanban_group:contains('In Progress') ${CARD}`,
            run: "click",
        },
        {
            content: "Log the callback",
            trigger: ".o_form_view button[name=action_log_interaction]",
            run: "click",
        },
        {
            trigger: ".modal div[name=subject] input",
            run: "edit Callback: quote promised for Friday",
        },
        {
            trigger: ".modal button[name=action_log]",
            run: "click",
        },
        {
            content: "The missed call is closed",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Done')",
        },
    ],
});

registry.category("web_tour.tours").add("crm_contact_center_timeline_tour", {
    steps: () => [
        {
            content: "Open the customer's communications",
            trigger: ".o_notebook .nav-link:contains('Communications')",
            run: "click",
        },
        {
            trigger: "div[name=interaction_timeline_ids] .o_data_row:contains('Callback: quote promised')",
        },
        {
            trigger: "div[name=interaction_timeline_ids] .o_data_row:contains('Missed call from Tour Customer')",
        },
        {
            content: "The smart button counts both",
            trigger: "button[name=action_view_interactions] .o_stat_value:contains('2')",
        },
    ],
});
