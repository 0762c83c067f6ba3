/** @odoo-module **/

import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_service/tour_utils";

/**
 * A sales manager opens the "Customer retention" dashboard, then the
 * Customer KPIs pivot (grouped by customer tag) and the Campaign
 * Effectiveness pivot from CRM > Reporting.
 */
registry.category("web_tour.tours").add("crm_kpi_dashboard_tour", {
  url: "/odoo",
  steps: () => [
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
      content: "the dashboard is rendered",
      trigger: ".o_spreadsheet_dashboard_action .o_renderer .o-spreadsheet",
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
      content: "the pivot shows the churn measure",
      trigger: ".o_pivot_view .o_pivot_measure_row:contains('Churn Rate (%)')",
    },
    {
      content: "open the search options",
      trigger: ".o_control_panel_actions .o_searchview_dropdown_toggler",
      run: "click",
    },
    {
      content: "group the customer KPIs by customer tag (a many2many)",
      trigger: ".o_group_by_menu .o_menu_item:contains('Customer Tag')",
      run: "click",
    },
    {
      content: "the pivot is grouped by tag",
      trigger: ".o_searchview_facet:contains('Customer Tag')",
    },
    {
      content: "and still shows its rows",
      trigger: ".o_pivot_view .o_pivot_header_cell_closed",
    },
    {
      content: "open Reporting again",
      trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_report']",
      run: "click",
    },
    {
      content: "open Campaign Effectiveness",
      trigger: ".dropdown-item[data-menu-xmlid='crm_kpi.crm_kpi_campaign_report_menu']",
      run: "click",
    },
    {
      content: "the campaign pivot shows the uplift measure",
      trigger: ".o_pivot_view .o_pivot_measure_row:contains('Uplift (pp)')",
    },
    {
      content: "open Reporting again",
      trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_report']",
      run: "click",
    },
    {
      content: "open the Sales Funnel",
      trigger: ".dropdown-item[data-menu-xmlid='crm_kpi.crm_kpi_funnel_report_menu']",
      run: "click",
    },
    {
      content: "the funnel counts moves and shows no negative time in a stage",
      trigger:
        ".o_pivot_view:has(.o_pivot_measure_row:contains('Moved On'))" +
        ":not(:has(td.o_pivot_cell_value:contains('-')))",
    },
    {
      content: "open Reporting again",
      trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_report']",
      run: "click",
    },
    {
      content: "open the cohort heat map",
      trigger: ".dropdown-item[data-menu-xmlid='crm_kpi.crm_kpi_cohort_menu']",
      run: "click",
    },
    {
      content: "it opens computed, under its title",
      trigger:
        ".o_breadcrumb:contains('Cohort Retention')" + ":not(:contains('crm.kpi.cohort.heatmap'))",
    },
    {
      trigger: ".o_field_widget[name=heatmap] table",
    },
  ],
});
