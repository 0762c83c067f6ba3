"""The counts managers compare across screens, each defined once.

"Lost" means two different numbers: the customers lost *now* (the Lost column
of the lifecycle kanban, the Win-back list, the dashboard's "right now" row)
and the customers lost *during a period* (the KPI reports and the dashboard's
period tiles: a flow, which adds up over months). The labels and definitions
below are what every screen shows (field strings, help tooltips, dashboard
titles), so the two never read as one number that disagrees with itself.
No ``odoo`` import: the dashboard generator (tools/gen_kpi_dashboard.py)
reads it too.
"""

# (label, definition)
AT_RISK_NOW = (
    "At risk (now)",
    "Customers whose current lifecycle stage is of kind At risk: late against their own "
    "purchase rhythm or likely to leave, while there is still time to act.",
)
LOST_NOW = (
    "Lost (now)",
    "Customers whose current lifecycle stage is of kind Lost: the Lost column of the "
    "lifecycle board and the Win-back list.",
)
LOST_IN_PERIOD = (
    "Lost in Period",
    "Customers who entered a stage of kind Lost during the period (a flow: a customer "
    "lost in March counts in March, whatever it became later).",
)
VALUE_AT_RISK = (
    "Value at Risk",
    "What the company stands to lose with the customers at risk now: each one's churn "
    "probability times its 12-month value if it is kept.",
)

# Stage kinds (crm.lifecycle.stage.kind) by what they mean, for every count:
# a customer has bought and is not lost; an active customer is not even late;
# a comeback is a return to buying that a campaign may claim.
CUSTOMER_KINDS = ("new", "active", "at_risk", "won_back")
ACTIVE_KINDS = ("new", "active", "won_back")
COMEBACK_KINDS = ("won_back", "active")

# History reasons (crm.lifecycle.history.reason) that record a change of the
# books, not of the customer: two partners merged into one, or the rules that
# decide the stages (thresholds, a stage's rule, the purchases that count)
# changed under a customer who did nothing. The stage moves all the same, but
# the flows (customers lost and won back in the KPIs, the survival curves,
# the health score's lapses) do not count these moves.
NOT_FLOW_REASONS = ("merge", "redefinition")
