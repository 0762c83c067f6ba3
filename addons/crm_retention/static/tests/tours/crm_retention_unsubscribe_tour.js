/** @odoo-module **/

import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("crm_retention_unsubscribe_tour", {
  steps: () => [
    {
      content: "the page names the address, masked",
      trigger: ".o_crm_retention_unsubscribe_email:contains('j***@example.com')",
    },
    {
      content: "unsubscribe from the offers",
      trigger: "button[name='unsubscribe']",
      run: "click",
      expectUnloadPage: true,
    },
    {
      content: "the customer is told it is done",
      trigger: ".o_crm_retention_unsubscribed:contains('You are unsubscribed')",
    },
  ],
});
