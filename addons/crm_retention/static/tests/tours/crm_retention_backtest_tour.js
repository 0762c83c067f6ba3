/** @odoo-module **/

import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("crm_retention_backtest_tour", {
  steps: () => [
    {
      content: "the churn model is fitted",
      trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Fitted')",
    },
    {
      content: "the drift of the fits is charted",
      trigger: ".o_form_view .o_notebook .o_crm_retention_chart canvas",
    },
    {
      content: "run a backtest",
      trigger: ".o_form_view .o_statusbar_buttons button:contains('Run Backtest')",
      run: "click",
    },
    {
      content: "keep the default split (26 weeks back)",
      trigger: ".modal .o_field_widget[name=calibration_end] input",
    },
    {
      content: "run it",
      trigger: ".modal footer button:contains('Run')",
      run: "click",
    },
    {
      content: "the backtest says how far off the model was",
      trigger: ".o_form_view .o_field_widget[name=summary]:contains('happened')",
    },
    {
      content: "the calibration / holdout chart is drawn",
      trigger: ".o_form_view .o_notebook .o_crm_retention_chart canvas",
    },
    {
      content: "open the threshold page",
      trigger: ".o_form_view .o_notebook a:contains('At Risk Threshold')",
      run: "click",
    },
    {
      content: "a threshold is suggested",
      trigger: ".o_form_view .o_field_widget[name=suggested_threshold]:not(:contains('0.00'))",
    },
    {
      content: "the net value curve is drawn",
      trigger: ".o_form_view .o_notebook .o_crm_retention_chart canvas",
    },
    {
      content: "apply the suggestion",
      trigger: ".o_form_view .o_statusbar_buttons button:contains('Apply Suggested Threshold')",
      run: "click",
    },
    {
      content: "confirm",
      trigger: ".modal button:contains('Ok')",
      run: "click",
    },
    {
      content: "the suggestion is applied",
      trigger: ".o_form_view .o_field_widget[name=applied] input:checked",
    },
  ],
});
