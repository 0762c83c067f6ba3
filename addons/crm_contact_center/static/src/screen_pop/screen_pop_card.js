import {Component, onWillStart, useState} from "@odoo/owl";
import {_t} from "@web/core/l10n/translation";
import {formatCurrency} from "@web/core/currency";
import {deserializeDateTime, formatDateTime} from "@web/core/l10n/dates";
import {user} from "@web/core/user";

// lifecycle stage kinds (crm_retention) and the badge colour they get
const STAGE_BADGE = {
  new: "text-bg-info",
  active: "text-bg-success",
  won_back: "text-bg-success",
  at_risk: "text-bg-warning",
  lost: "text-bg-danger",
};

/**
 * One ringing call: caller, company, photo, retention figures when the
 * bridge sends them (``card.facts``), the latest interactions and the
 * buttons. ``card`` is the dict ``crm.interaction._screen_pop_cards`` builds.
 */
export class ScreenPopCard extends Component {
  static template = "crm_contact_center.ScreenPopCard";
  static props = {card: Object, rights: Object, onDismiss: Function, run: Function};

  get facts() {
    return this.props.card.facts || {};
  }
  get hasFacts() {
    return Boolean(this.facts.stage || this.facts.value_at_risk || this.facts.offer);
  }
  get stageBadge() {
    return STAGE_BADGE[this.facts.stage_kind] || "text-bg-secondary";
  }
  get pAlive() {
    const p = this.facts.p_alive;
    return typeof p === "number" ? `${Math.round(p * 100)} %` : "";
  }
  get valueAtRisk() {
    const facts = this.facts;
    if (typeof facts.value_at_risk !== "number") {
      return "";
    }
    return facts.currency_id
      ? formatCurrency(facts.value_at_risk, facts.currency_id, {digits: [16, 0]})
      : facts.value_at_risk_display || String(facts.value_at_risk);
  }
  get opportunityLabel() {
    const card = this.props.card;
    if (card.opportunity_id) {
      return _t("Open Opportunity");
    }
    return card.lead_id ? _t("Open Lead") : _t("Create Opportunity");
  }
  formatDate(value) {
    return value ? formatDateTime(deserializeDateTime(value), {showSeconds: false}) : "";
  }
  run(method, options) {
    return this.props.run(this.props.card, method, options);
  }
}

export class ScreenPopContainer extends Component {
  static template = "crm_contact_center.ScreenPopContainer";
  static components = {ScreenPopCard};
  static props = {state: Object, remove: Function, run: Function};

  setup() {
    this.state = useState(this.props.state);
    this.rights = useState({salesman: false, contacts: false});
    onWillStart(async () => {
      const [salesman, contacts] = await Promise.all([
        user.hasGroup("sales_team.group_sale_salesman"),
        user.hasGroup("base.group_partner_manager"),
      ]);
      Object.assign(this.rights, {salesman, contacts});
    });
  }
}
