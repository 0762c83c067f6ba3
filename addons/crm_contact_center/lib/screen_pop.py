"""Who sees a ringing call's card (the screen pop), in plain Python.

No ``odoo`` import: users are any hashable ids. The rules, in order:

1. the agents the PBX names (``to.login`` or ``to.extension`` of the event),
   else the agent the request was routed to, else the team's available agents;
2. of those, the ones online (bus presence) get the card;
3. when none of them is online, the team's available agents who are online;
4. when nobody of the team is online either, the agents of rule 1 anyway: the
   card waits for them (``screen_pop_pending`` shows it when they open Odoo
   while the phone still rings).

    >>> choose_targets(wanted=[7], team=[7, 8, 9], online={8, 9})
    [8, 9]
    >>> choose_targets(wanted=[7], team=[7, 8], online={7, 8})
    [7]
    >>> choose_targets(wanted=[], team=[8, 9], online={9})
    [9]
    >>> choose_targets(wanted=[7], team=[8], online=set())
    [7]
"""

# the events of a call that pop its card, and those that take it away
POP_EVENTS = ("call.ringing", "call.started")
WITHDRAW_EVENTS = ("call.answered", "call.ended", "call.missed")
# how long a card is shown again to an agent who reloads the page: a phone
# rings for 20-60 s before the PBX gives up
PENDING_SECONDS = 60
# the customer's latest interactions on the card
HISTORY_SIZE = 5
# notification types on the agent's partner channel (the OWL service listens)
POP_TYPE = "crm_contact_center.screen_pop"
WITHDRAW_TYPE = "crm_contact_center.screen_pop_withdraw"


def choose_targets(wanted, team, online):
    """The users (ids, in the given order) whose screen pops the card.

    ``wanted``: the named or routed agents, else the team's available
    agents; ``team``: the team's available agents; ``online``: the ids of
    the users online now."""
    wanted = list(wanted) or list(team)
    return (
        [user for user in wanted if user in online]
        or [user for user in team if user in online]
        or wanted
    )
