import {loadBundle} from "@web/core/assets";
import {getColor} from "@web/core/colors/colors";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";
import {Component, onWillStart, useEffect, useRef} from "@odoo/owl";

/**
 * A chart of a Json field: ``{type: "bar"|"line", labels: [...],
 * datasets: [{label, data, ...Chart.js dataset options}], x_title, y_title,
 * y1_title}`` (a dataset with ``yAxisID: "y1"`` is drawn on a right axis).
 * The backtest's calibration, reliability and threshold charts and the
 * model's drift chart use it; the data is built server-side.
 */
export class RetentionChartField extends Component {
  static template = "crm_retention.RetentionChartField";
  static props = {...standardFieldProps};

  setup() {
    this.canvasRef = useRef("canvas");
    this.chart = null;
    onWillStart(() => loadBundle("web.chartjs_lib"));
    useEffect(
      () => {
        this.renderChart();
        return () => this.chart?.destroy();
      },
      () => [this.props.record.data[this.props.name]],
    );
  }

  get data() {
    return this.props.record.data[this.props.name];
  }

  renderChart() {
    this.chart?.destroy();
    this.chart = null;
    const data = this.data;
    if (!data || !this.canvasRef.el) {
      return;
    }
    const datasets = data.datasets.map((dataset, index) => {
      const color = getColor(index * 3 + 1);
      return {
        backgroundColor: data.type === "line" ? color : color + "cc",
        borderColor: color,
        borderWidth: 2,
        fill: false,
        tension: 0.2,
        ...dataset,
      };
    });
    const scales = {
      x: {title: {display: Boolean(data.x_title), text: data.x_title}},
      y: {
        beginAtZero: data.type === "bar",
        title: {display: Boolean(data.y_title), text: data.y_title},
      },
    };
    if (datasets.some((d) => d.yAxisID === "y1")) {
      scales.y1 = {
        position: "right",
        grid: {drawOnChartArea: false},
        title: {display: Boolean(data.y1_title), text: data.y1_title},
      };
    }
    this.chart = new Chart(this.canvasRef.el, {
      type: data.type,
      data: {labels: data.labels, datasets},
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales,
        plugins: {legend: {display: datasets.length > 1, position: "bottom"}},
      },
    });
  }
}

registry.category("fields").add("crm_retention_chart", {
  component: RetentionChartField,
  supportedTypes: ["json"],
});
