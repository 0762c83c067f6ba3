import {reactive} from "@odoo/owl";
import {registry} from "@web/core/registry";
import {user} from "@web/core/user";
import {ScreenPopContainer} from "./screen_pop_card";

// cards shown at once; an older one leaves when a sixth call rings
export const MAX_CARDS = 5;

/**
 * The screen pop: the caller's card pops on the agent's screen while the
 * phone rings (bus notification ``crm_contact_center.screen_pop`` on the
 * agent's partner channel, sent by the inbound API) and leaves when the call
 * is answered elsewhere, ended or missed (``..._withdraw``). At start the
 * cards of the calls still ringing for the agent are asked again, so a page
 * reload shows them.
 *
 * The card's buttons call ``crm.interaction`` methods that return actions,
 * so the agent's access rights apply (see ``ScreenPopCard``).
 */
export const screenPopService = {
  dependencies: ["bus_service", "orm", "action", "notification"],
  start(env, {bus_service, orm, action, notification}) {
    const state = reactive({cards: []});

    function add(card) {
      const others = state.cards.filter((c) => c.id !== card.id);
      state.cards = [card, ...others].slice(0, MAX_CARDS);
    }
    function remove(id) {
      state.cards = state.cards.filter((c) => c.id !== id);
    }
    async function run(card, method, {dismiss = false} = {}) {
      try {
        const act = await orm.call("crm.interaction", method, [[card.id]]);
        if (act) {
          await action.doAction(act, {
            onClose: dismiss ? () => remove(card.id) : undefined,
          });
        }
      } catch (error) {
        // the card may outlive the call (deleted, another company)
        notification.add(error.data?.message || error.message || String(error), {
          type: "danger",
        });
      }
    }

    bus_service.subscribe("crm_contact_center.screen_pop", (card) => add(card));
    bus_service.subscribe("crm_contact_center.screen_pop_withdraw", ({id}) => remove(id));
    bus_service.start();

    registry.category("main_components").add("crm_contact_center.ScreenPopContainer", {
      Component: ScreenPopContainer,
      props: {state, remove, run},
    });

    (async () => {
      // best effort: a page without the agent's rights (or offline) shows no card
      try {
        if (!(await user.hasGroup("crm_contact_center.group_contact_center_agent"))) {
          return;
        }
        const pending = await orm.silent.call("crm.interaction", "screen_pop_pending", []);
        for (const card of [...pending].reverse()) {
          add(card);
        }
      } catch {
        return;
      }
    })();

    return {state, add, remove};
  },
};

registry.category("services").add("crm_contact_center_screen_pop", screenPopService);
