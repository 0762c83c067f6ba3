/** @odoo-module **/

import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_service/tour_utils";

/**
 * The day the suite is installed on a database that already sells (the
 * demo orders of Sales, the demo opportunities of CRM): a sales manager
 * opens the "Customer retention" dashboard (its monthly charts read the
 * Customer KPIs: the test checks their figures), then the Customer KPIs
 * and finds the past months there (the history was rebuilt from the
 * purchases and snapshotted), then opens a customer who bought several
 * times through Sales and sees it Active.
 */
registry.category("web_tour.tours").add("crm_kpi_past_on_install_tour", {
  url: "/odoo",
  steps: () => {
    const {DateTime} = luxon;
    const pastMonth = DateTime.now().minus({months: 6}).toFormat("MMMM yyyy");
    return [
      stepUtils.showAppsMenuItem(),
      {
        content: "open Dashboards",
        trigger: ".o_app[data-menu-xmlid='spreadsheet_dashboard.spreadsheet_dashboard_menu_root']",
        run: "click",
      },
      {
        content: "pick the Customer retention dashboard",
        trigger: ".o_search_panel_category_value:contains('Customer retention')",
        // the first visit builds the lazy spreadsheet asset bundle: slow on a busy test box
        timeout: 60000,
        run: "click",
      },
      {
        content: "its charts are drawn",
        trigger: ".o_spreadsheet_dashboard_action .o_renderer .o-spreadsheet .o-figure canvas",
        timeout: 30000,
      },
      {
        content: "back to the apps",
        trigger: ".o_navbar_apps_menu button",
        run: "click",
      },
      {
        content: "open CRM",
        trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
        run: "click",
      },
      {
        content: "open Reporting",
        trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_report']",
        run: "click",
      },
      {
        content: "open Customer KPIs",
        trigger: ".dropdown-item[data-menu-xmlid='crm_kpi.crm_kpi_customer_report_menu']",
        run: "click",
      },
      {
        content: `the churn trend reaches back before the install: ${pastMonth}`,
        trigger: `.o_pivot_view thead th:contains('${pastMonth}')`,
      },
      {
        content: "with the customers lost each month",
        trigger: ".o_pivot_view thead th:contains('Lost in Period')",
      },
      {
        content: "back to the apps",
        trigger: ".o_navbar_apps_menu button",
        run: "click",
      },
      {
        content: "open Contacts",
        trigger: ".o_app[data-menu-xmlid='contacts.menu_contacts']",
        run: "click",
      },
      {
        // The apps menu opens over the KPI pivot, whose search box stays in
        // the page until Contacts has loaded: wait for the Contacts kanban.
        content: "the contacts are listed",
        trigger: ".o_action_manager .o_kanban_view .o_breadcrumb:contains('Contacts')",
      },
      {
        content: "look for the repeat buyer of the Sales demo",
        trigger: ".o_action_manager:has(.o_kanban_view) .o_searchview_input",
        run: "edit Gemini Furniture",
      },
      {
        trigger: ".o_action_manager:has(.o_kanban_view) .o_searchview_input",
        run: "press Enter",
      },
      {
        content: "the search is applied",
        trigger: ".o_control_panel .o_searchview_facet:contains('Gemini Furniture')",
      },
      {
        content: "open it",
        trigger: ".o_kanban_view .o_kanban_record:contains('Gemini Furniture')",
        run: "click",
      },
      {
        content: "its six order days make it an Active customer",
        trigger:
          ".o_field_widget[name=lifecycle_stage_id] .o_arrow_button_current:contains('Active')",
      },
    ];
  },
});
