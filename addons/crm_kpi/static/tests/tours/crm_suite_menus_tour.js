/** @odoo-module **/

import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_service/tour_utils";

/**
 * A salesperson opens CRM and reaches the menus of the three addons:
 * Retention > Customer Lifecycle, Contact Center > Communications and
 * Reporting > Customer KPIs > Won Deals.
 */
function openMenu(parentXmlid, itemXmlid, viewSelector) {
  return [
    {
      content: `open ${parentXmlid}`,
      trigger: `.o_menu_sections [data-menu-xmlid='${parentXmlid}']`,
      run: "click",
    },
    {
      content: `open ${itemXmlid}`,
      trigger: `.dropdown-item[data-menu-xmlid='${itemXmlid}']`,
      run: "click",
    },
    {
      content: "the view is displayed",
      trigger: viewSelector,
    },
  ];
}

registry.category("web_tour.tours").add("crm_suite_menus_tour", {
  url: "/odoo",
  steps: () => [
    stepUtils.showAppsMenuItem(),
    {
      content: "open CRM",
      trigger: ".o_app[data-menu-xmlid='crm.crm_menu_root']",
      run: "click",
    },
    ...openMenu(
      "crm_retention.crm_retention_menu_root",
      "crm_retention.crm_customer_profile_menu",
      ".o_breadcrumb:contains('Customer Lifecycle')",
    ),
    ...openMenu(
      "crm_contact_center.crm_contact_center_menu_root",
      "crm_contact_center.crm_interaction_menu",
      ".o_breadcrumb:contains('Communications')",
    ),
    {
      content: "open Reporting",
      trigger: ".o_menu_sections [data-menu-xmlid='crm.crm_menu_report']",
      run: "click",
    },
    {
      content: "open Won Deals",
      trigger: ".dropdown-item[data-menu-xmlid='crm_kpi.crm_kpi_deal_report_menu']",
      run: "click",
    },
    {
      content: "the pivot is displayed",
      trigger: ".o_pivot_view",
    },
  ],
});
