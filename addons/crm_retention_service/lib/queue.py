"""The queue priority of a customer's request, from its retention figures.

No ``odoo`` import. A request of a customer the company is losing (an *At
risk* stage, and *Lost* unless the company says otherwise) is raised when
the money at stake — the profile's value at risk, churn probability x value
if retained — reaches the company's thresholds: *High* from ``high``,
*Urgent* from ``urgent`` (a threshold of 0 is off). Priorities are the
contact center's codes: "0" normal, "1" high, "2" urgent.

    >>> priority_level("at_risk", 12300, high=5000, urgent=20000)
    '1'
    >>> priority_level("at_risk", 25000, high=5000, urgent=20000)
    '2'
    >>> priority_level("at_risk", 800, high=5000, urgent=20000)    # too little at stake
    '0'
    >>> priority_level("active", 90000, high=5000, urgent=20000)   # not leaving
    '0'
    >>> priority_level("lost", 9000, high=5000, urgent=0, include_lost=False)
    '0'
"""

LEAVING_KINDS = ("at_risk", "lost")


def priority_level(stage_kind, value_at_risk, high, urgent, include_lost=True):
    """The priority code of a request of a customer in a stage of
    ``stage_kind`` with ``value_at_risk`` at stake."""
    leaving = LEAVING_KINDS if include_lost else ("at_risk",)
    if stage_kind not in leaving or not value_at_risk:
        return "0"
    if urgent and value_at_risk >= urgent:
        return "2"
    if high and value_at_risk >= high:
        return "1"
    return "0"
