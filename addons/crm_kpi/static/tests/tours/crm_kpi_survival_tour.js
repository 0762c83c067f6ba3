/** @odoo-module **/

import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_service/tour_utils";

/**
 * A reader of company-wide KPIs opens CRM > Reporting > Customer KPIs >
 * Retention Curves (a line chart, the recent cohorts filter on), switches to
 * the channels, then opens Value by Tenure.
 */
function openKpiMenu(itemXmlid) {
  return [
    {
      content: "open Reporting",
      trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_report']",
      run: "click",
    },
    {
      content: `open ${itemXmlid}`,
      trigger: `.dropdown-item[data-menu-xmlid='${itemXmlid}']`,
      run: "click",
    },
  ];
}

registry.category("web_tour.tours").add("crm_kpi_survival_tour", {
  url: "/odoo",
  steps: () => [
    stepUtils.showAppsMenuItem(),
    {
      content: "open CRM",
      trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
      run: "click",
    },
    ...openKpiMenu("crm_kpi.crm_kpi_survival_menu"),
    {
      content: "a line chart",
      trigger: ".o_graph_renderer canvas",
    },
    {
      content: "of the recent cohorts",
      trigger: ".o_searchview_facet:contains('Cohorts of the Last 12 Months')",
    },
    {
      content: "open the filters",
      trigger: ".o_searchview_dropdown_toggler",
      run: "click",
    },
    {
      content: "the channels' curves",
      trigger: ".o_filter_menu .dropdown-item:contains('Acquisition Channels')",
      run: "click",
    },
    {
      content: "still a chart",
      trigger: ".o_graph_renderer canvas",
    },
    ...openKpiMenu("crm_kpi.crm_kpi_cohort_value_menu"),
    {
      content: "value by tenure is drawn",
      trigger: ".o_breadcrumb:contains('Value by Tenure')",
    },
    {
      content: "its chart",
      trigger: ".o_graph_renderer canvas",
    },
  ],
});
