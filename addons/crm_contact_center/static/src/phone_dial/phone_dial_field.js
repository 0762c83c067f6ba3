import {registry} from "@web/core/registry";
import {_t} from "@web/core/l10n/translation";
import {useService} from "@web/core/utils/hooks";
import {PhoneField, phoneField} from "@web/views/fields/phone/phone_field";

/**
 * A phone number with a Call button: the agent's PBX rings his extension,
 * then the number (``crm.interaction.action_click_to_dial``), or the
 * softphone opens (``tel:``) when no PBX is set up for click-to-dial.
 *
 *     <field name="phone" widget="phone_dial"/>
 */
export class PhoneDialField extends PhoneField {
  static template = "crm_contact_center.PhoneDialField";

  setup() {
    super.setup();
    this.orm = useService("orm");
    this.action = useService("action");
  }

  get canDial() {
    const record = this.props.record;
    return Boolean(record.data[this.props.name]) && Boolean(record.resId);
  }

  async onClickDial() {
    const record = this.props.record;
    if (record.dirty && !(await record.save())) {
      return;
    }
    const act = await this.orm.call("crm.interaction", "action_click_to_dial", [
      record.resModel,
      record.resId,
      record.data[this.props.name],
    ]);
    if (act) {
      await this.action.doAction(act);
    }
  }
}

export const phoneDialField = {
  ...phoneField,
  component: PhoneDialField,
  displayName: _t("Phone with Call button"),
};

registry.category("fields").add("phone_dial", phoneDialField);
