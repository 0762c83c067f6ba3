import {registry} from "@web/core/registry";

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
      trigger:
        "div[name=interaction_timeline_ids] .o_data_row:contains('Callback: quote promised')",
    },
    {
      trigger:
        "div[name=interaction_timeline_ids] .o_data_row:contains('Missed call from Tour Customer')",
    },
    {
      content: "The smart button counts both",
      trigger: "button[name=action_view_interactions] .o_stat_value:contains('2')",
    },
  ],
});

const CHAT = ".o_kanban_record:contains('Chat: is the blue model in stock?')";

registry.category("web_tour.tours").add("crm_contact_center_chat_tour", {
  steps: () => [
    {
      content: "The card says by when the chat must be answered",
      trigger: `${CHAT} div:contains('Answer by')`,
    },
    {
      trigger: CHAT,
      run: "click",
    },
    {
      content: "A chat is answered with a reply, not a call",
      trigger: ".o_form_view button[name=action_log_interaction]:contains('Log the Reply')",
    },
    {
      trigger: ".o_form_view:not(:has(button:contains('Log the Call')))",
    },
  ],
});

registry.category("web_tour.tours").add("crm_contact_center_supervisor_tour", {
  steps: () => [
    {
      content: "The default filter keeps requests no team was found for",
      trigger: ".o_searchview_facet:contains('My Teams and No Team')",
    },
    {
      trigger: ".o_kanban_record:contains('Web form without a team')",
    },
    {
      content: "Open Load per Agent",
      trigger: ".o_main_navbar .dropdown-toggle:contains('Contact Center')",
      run: "click",
    },
    {
      trigger: ".dropdown-menu a:contains('Load per Agent')",
      run: "click",
    },
    {
      content: "The load is a count of open requests",
      trigger: ".o_pivot thead:contains('Count')",
    },
    {
      content: "The agent with an open chat has a load of 1",
      trigger: ".o_pivot tr:has(th:contains('Chat Agent')) td.o_pivot_cell_value:contains('1')",
    },
  ],
});
