from odoo import api, fields, models
from odoo.addons.crm_contact_center.models.crm_interaction import OPEN_STATES
from odoo.tools.misc import formatLang

from ..lib.queue import priority_level

# the figures a request's priority was computed from, set by the server only
PRIORITY_SNAPSHOT = ("priority_stage_id", "priority_value_at_risk", "priority_p_alive")


class CrmInteraction(models.Model):
    """Requests of customers the company is losing, and who have a lot at
    stake, jump the queue: the priority is computed from the customer's
    retention profile (stage, value at risk; ``lib.queue``) when the request
    arrives, for the whole batch at once, and again when the nightly run (or
    a deal won) changes these figures (``_refresh_customer_priorities``).
    The figures it was computed from stay on the request, to explain it."""

    _inherit = "crm.interaction"

    # a bad experience the customer voiced: one of the health score's signals
    outcome = fields.Selection(
        selection_add=[("complaint", "Complaint")], ondelete={"complaint": "set null"}
    )
    # what the priority was computed from (computed with it, see _compute_priority)
    priority_stage_id = fields.Many2one(
        "crm.lifecycle.stage",
        string="Customer Stage (Priority)",
        compute="_compute_priority",
        store=True,
        precompute=True,
        help="The customer's lifecycle stage when the priority was last computed.",
    )
    # a Float shown as money (priority_currency_id): a Monetary would read the
    # company and its currency in the INSERT of every API batch, to round a 0
    priority_value_at_risk = fields.Float(
        string="Value at Risk (Priority)",
        digits=(16, 2),
        compute="_compute_priority",
        store=True,
        precompute=True,
        help="What the company stood to lose with this customer when the priority was last "
        "computed: churn probability x value if retained, in the company currency.",
    )
    priority_p_alive = fields.Float(
        string="Chance Still Active (Priority)",
        digits=(16, 3),
        compute="_compute_priority",
        store=True,
        precompute=True,
        help="The customer's P(alive) when the priority was last computed.",
    )
    priority_currency_id = fields.Many2one(
        related="company_id.currency_id",
        string="Priority Currency",
        help="The company currency, in which the value at risk is expressed.",
    )

    @property
    def _protected_fields(self):
        return super()._protected_fields | set(PRIORITY_SNAPSHOT)

    def _compute_priority(self):
        """The priority of open inbound requests of customers with a
        retention profile, from the profile (one query for the recordset);
        the others keep the contact center's."""
        # raised from the customer's figures before: a request whose customer
        # was corrected to one without a profile is Normal again, not left
        # Urgent with no reason (and no refresh would ever lower it)
        derived = self.filtered("priority_stage_id")
        super()._compute_priority()
        derived.priority = "0"
        self.priority_stage_id = False
        self.priority_value_at_risk = 0.0
        self.priority_p_alive = 0.0
        todo = self.filtered(
            lambda i: i.direction == "inbound"
            and i.state in OPEN_STATES
            and i.commercial_partner_id
            and i.company_id
        )
        if not todo:
            return
        profiles = self._priority_profiles(todo.commercial_partner_id.ids, todo.company_id.ids)
        for interaction in todo:
            profile = profiles.get(
                (interaction.commercial_partner_id.id, interaction.company_id.id)
            )
            if not profile:
                continue
            company = interaction.company_id
            interaction.priority_stage_id = profile.stage_id
            interaction.priority_value_at_risk = profile.value_at_risk
            interaction.priority_p_alive = profile.p_alive
            interaction.priority = priority_level(
                profile.stage_kind,
                profile.value_at_risk,
                high=company.retention_priority_high_value,
                urgent=company.retention_priority_urgent_value,
                include_lost=company.retention_priority_include_lost,
            )

    @api.depends(*PRIORITY_SNAPSHOT, "priority_currency_id")
    def _compute_priority_reason(self):
        """e.g. "At risk, 12,300 € at stake (34 % chance still active)", in
        the reader's language, for a priority raised by the customer's
        figures."""
        super()._compute_priority_reason()
        # sudo: the name of the stage of the request's own customer; an agent
        # outside the retention groups handles the request, not the stages
        for interaction, snapshot in zip(self, self.sudo(), strict=True):
            if interaction.priority in ("1", "2") and snapshot.priority_stage_id:
                interaction.priority_reason = self.env._(
                    "%(stage)s, %(amount)s at stake (%(p_alive)s %% chance still active)",
                    stage=snapshot.priority_stage_id.name,
                    amount=formatLang(
                        self.env,
                        interaction.priority_value_at_risk,
                        currency_obj=interaction.priority_currency_id,
                        rounding_unit="units",
                    ),
                    p_alive=round(interaction.priority_p_alive * 100),
                )

    @api.model
    def _priority_profiles(self, partner_ids, company_ids):
        """``{(commercial partner id, company id): profile}`` of these
        customers, in one query."""
        # sudo: the figures of the request's own customer, whoever the request's reader
        profiles = (
            self.env["crm.customer.profile"]
            .sudo()
            .search_fetch(
                [("partner_id", "in", partner_ids), ("company_id", "in", company_ids)],
                ["partner_id", "company_id", "stage_id", "stage_kind", "value_at_risk", "p_alive"],
            )
        )
        return {(p.partner_id.id, p.company_id.id): p for p in profiles}

    @api.model
    def _customer_facts(self, partners, company):
        """The screen pop's retention figures of each customer: lifecycle
        stage, chance still active (P(alive)), value at risk in the company
        currency, and the offer of a running campaign the customer was
        treated with (its code when the campaign gives codes). Two queries
        for all of ``partners``."""
        facts = super()._customer_facts(partners, company)
        # sudo: the figures of the caller's own customer, shown to the agent
        # who answers the call, whatever his retention rights; only the
        # call's company's profile and campaigns are read
        profiles = (
            self.env["crm.customer.profile"]
            .sudo()
            .search_fetch(
                [("partner_id", "in", partners.ids), ("company_id", "=", company.id)],
                ["partner_id", "stage_id", "stage_kind", "p_alive", "value_at_risk"],
            )
        )
        today = fields.Date.context_today(self)
        members = (
            self.env["crm.retention.campaign.member"]
            .sudo()
            .search_fetch(
                [
                    ("partner_id", "in", partners.ids),
                    ("company_id", "=", company.id),
                    ("member_group", "=", "treated"),
                    ("state", "in", ("targeted", "contacted", "responded")),
                    ("campaign_id.state", "=", "running"),
                    "|",
                    ("offer_expiry_date", "=", False),
                    ("offer_expiry_date", ">=", today),
                ],
                ["partner_id", "campaign_id", "offer_code", "offer_expiry_date"],
                order="id desc",
            )
        )
        offers = {}
        for member in members:
            offers.setdefault(member.partner_id.id, member)
        currency = company.currency_id
        for profile in profiles:
            values = facts.setdefault(profile.partner_id.id, {})
            values.update(
                stage=profile.stage_id.name or False,
                stage_kind=profile.stage_kind or False,
                p_alive=profile.p_alive,
                value_at_risk=profile.value_at_risk,
                currency_id=currency.id,
                value_at_risk_display=formatLang(
                    self.env, profile.value_at_risk, currency_obj=currency, rounding_unit="units"
                ),
            )
        for partner_id, member in offers.items():
            campaign = member.campaign_id
            facts.setdefault(partner_id, {}).update(
                offer=campaign.offer_description or campaign.name,
                offer_campaign=campaign.name,
                offer_code=member.offer_code or False,
                offer_expiry=fields.Date.to_string(member.offer_expiry_date)
                if member.offer_expiry_date
                else False,
            )
        return facts

    @api.model
    def _click_to_dial_models(self):
        """A customer's profile has a Call button too."""
        return (*super()._click_to_dial_models(), "crm.customer.profile")

    @api.model
    def _click_to_dial_contact(self, record):
        if record._name == "crm.customer.profile":
            return record.partner_id, self.env["crm.lead"]
        return super()._click_to_dial_contact(record)

    @api.model
    def _refresh_customer_priorities(self, company, partner_ids=None):
        """Compute again the priority of the open inbound requests of
        ``company`` (of the customers ``partner_ids``, commercial partners,
        when given) whose customer's stage or value at risk moved since it
        was computed (``crm.interaction._refresh_priority``: their deadline
        follows, and those still waiting for an agent are routed again).
        Two queries to find them whatever their number. Returns the requests
        whose priority moved."""
        domain = [
            ("company_id", "=", company.id),
            ("direction", "=", "inbound"),
            ("state", "in", OPEN_STATES),
            ("commercial_partner_id", "!=", False),
        ]
        if partner_ids is not None:
            domain.append(("commercial_partner_id", "in", partner_ids))
        requests = self.sudo().search_fetch(
            domain, ["commercial_partner_id", "company_id", *PRIORITY_SNAPSHOT, "priority"]
        )
        if not requests:
            return requests
        profiles = self._priority_profiles(requests.commercial_partner_id.ids, [company.id])
        currency = company.currency_id

        def stale(request):
            profile = profiles.get((request.commercial_partner_id.id, company.id))
            if not profile:
                return bool(request.priority_stage_id)
            return request.priority_stage_id != profile.stage_id or currency.compare_amounts(
                request.priority_value_at_risk, profile.value_at_risk
            )

        return requests.filtered(stale)._refresh_priority()

    @api.model
    def _rating_handled_outcomes(self):
        # a complaint dealt with is a request handled: how satisfied is the customer now?
        return (*super()._rating_handled_outcomes(), "complaint")
