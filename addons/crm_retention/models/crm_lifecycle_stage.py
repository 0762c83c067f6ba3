import math
from ast import literal_eval

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.osv import expression

from ..lib import lifecycle

STAGE_KINDS = [
    ("potential", "Potential"),
    ("new", "New"),
    ("active", "Active"),
    ("at_risk", "At risk"),
    ("lost", "Lost"),
    ("won_back", "Won back"),
]

# What a stage rule may read besides the profile's own stored fields: a few
# descriptive relations of the customer, compared by id only (the domain
# widget writes them so). Rules are evaluated as superuser, so anything else
# (messages, opportunities, notes...) would let a manager probe records its
# access rules hide; keep this list to attributes a retention manager sees.
RULE_RELATIONS = {
    "partner_id.country_id": "Country",
    "partner_id.state_id": "State",
    "partner_id.category_id": "Tags",
    "partner_id.industry_id": "Industry",
    "partner_id.user_id": "Salesperson",
    "partner_id.team_id": "Sales Team",
    "user_id": "Salesperson",
}
RULE_OPERATORS = {
    "=",
    "!=",
    "<>",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not in",
    "like",
    "ilike",
    "not like",
    "not ilike",
    "=like",
    "=ilike",
}
RULE_ID_OPERATORS = {"=", "!=", "<>", "in", "not in"}
# what decides which stage a customer is in: changing it moves customers who
# did nothing (crm.retention.model._mark_redefined)
RULE_FIELDS = ("rule_domain", "sequence", "kind", "active", "company_id")


class CrmLifecycleStage(models.Model):
    """A lifecycle stage and the rule that puts customers in it.

    The recompute evaluates the stages of a company (its own plus the shared
    ones, ``company_id`` empty) in ``sequence`` order; a customer profile
    takes the first stage whose ``rule_domain`` matches it. The rules are
    domains on ``crm.customer.profile`` metric fields, so an administrator
    can add a stage such as "VIP" (``[('won_revenue', '>', 100000)]``)
    without code. ``kind`` tells reports (churn, win-back...) what the stage
    means whatever its name.
    """

    _name = "crm.lifecycle.stage"
    _description = "Customer Lifecycle Stage"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    color = fields.Integer()
    kind = fields.Selection(
        STAGE_KINDS,
        required=True,
        default="potential",
        help="What the stage means for reports (acquired, churned, won back...), "
        "whatever its name.",
    )
    fold = fields.Boolean(
        string="Folded in Kanban", help="Fold this stage's column in the customers' kanban view."
    )
    company_id = fields.Many2one(
        "res.company", help="Leave empty to use the stage in every company."
    )
    rule_domain = fields.Char(
        string="Assignment Rule",
        default="[]",
        required=True,
        help="Customers whose profile matches this domain enter the stage. Stages are "
        "evaluated in sequence and the first match wins; an empty rule matches everyone.",
    )
    description = fields.Text(translate=True, help="What this stage means for your team.")
    # who is told when a customer enters the stage (see
    # crm.lifecycle.history._notify_stage_changes)
    notify = fields.Boolean(
        string="Tell the Salesperson",
        help="When a customer enters this stage (by the rules, nightly or as a deal is won), "
        "its salesperson gets an activity, and the retention managers the day's moves in "
        "their daily digest. Never a second activity while the first is open.",
    )
    notify_activity_type_id = fields.Many2one(
        "mail.activity.type",
        string="Activity Type",
        default=lambda self: self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False),
        domain="[('res_model', 'in', (False, 'crm.customer.profile'))]",
    )
    notify_deadline_days = fields.Integer(
        string="Deadline (days)", default=3, help="Days after the move the activity is due."
    )
    notify_note = fields.Text(
        string="Instructions",
        translate=True,
        help="Put in the activity, under the reason the customer entered the stage.",
    )
    profile_count = fields.Integer(compute="_compute_profile_count", string="Customers")

    def _compute_profile_count(self):
        counts = dict(
            self.env["crm.customer.profile"]._read_group(
                [("stage_id", "in", self.ids)], ["stage_id"], ["__count"]
            )
        )
        for stage in self:
            stage.profile_count = counts.get(stage, 0)

    @api.constrains("rule_domain")
    def _check_rule_domain(self):
        for stage in self:
            try:
                stage._get_rule_domain_checked()
            except Exception as exc:  # noqa: BLE001 - any failure means an unusable rule
                raise ValidationError(
                    self.env._(
                        "The assignment rule of stage %(stage)s is not a valid domain on "
                        "customer profiles: %(error)s",
                        stage=stage.name,
                        error=exc,
                    )
                ) from exc

    @api.ondelete(at_uninstall=False)
    def _unlink_except_in_use(self):
        Profile = self.env["crm.customer.profile"].sudo().with_context(active_test=False)
        used = Profile.search([("stage_id", "in", self.ids)], limit=1)
        if used:
            raise UserError(
                self.env._(
                    "Stage %(stage)s is used by customer profiles (e.g. %(customer)s); move "
                    "them to another stage or archive this stage instead of deleting it.",
                    stage=used.stage_id.name,
                    customer=used.partner_id.display_name,
                )
            )
        History = self.env["crm.lifecycle.history"].sudo()
        if History.search_count(
            ["|", ("stage_id", "in", self.ids), ("from_stage_id", "in", self.ids)], limit=1
        ):
            raise UserError(
                self.env._(
                    "These stages appear in the lifecycle history; archive them instead of "
                    "deleting them so the history stays readable."
                )
            )

    def _get_rule_domain(self):
        """The rule as a domain list (no validation: use on saved stages)."""
        self.ensure_one()
        return literal_eval(self.rule_domain or "[]")

    def _get_rule_domain_checked(self):
        domain = self._get_rule_domain()
        if not isinstance(domain, list):
            raise ValueError(self.env._("a domain must be a list"))
        domain = expression.normalize_domain(domain)
        self._check_rule_leaves(domain)
        # run it (as the saving user, in a savepoint): building the query
        # checks fields and operators, running it checks the values
        with self.env.cr.savepoint(flush=False):
            self.env["crm.customer.profile"].search_count(domain, limit=1)
        return domain

    @api.model
    def _check_rule_leaves(self, domain):
        """Raise ValueError unless every leaf of ``domain`` reads a stored
        field of the profile (no relation traversed, many2one compared by
        id) or a relation of ``RULE_RELATIONS`` (by id), with a plain
        operator, and numbers within ``lib.lifecycle.RULE_FIELD_BOUNDS``.

        Pure structure, no query: the recompute checks saved rules again
        with it before evaluating them as superuser."""
        Profile = self.env["crm.customer.profile"]
        for leaf in domain:
            if not expression.is_leaf(leaf) or leaf in (
                expression.TRUE_LEAF,
                expression.FALSE_LEAF,
            ):
                continue
            path, operator, value = leaf
            if not isinstance(path, str) or operator not in RULE_OPERATORS:
                raise ValueError(
                    self.env._("%(leaf)s: operator %(op)s is not allowed", leaf=leaf, op=operator)
                )
            field = Profile._fields.get(path)
            relation = path in RULE_RELATIONS
            if not relation and (
                field is None
                or not field.store
                or field.type in ("one2many", "many2many")
                or "." in path
            ):
                raise ValueError(
                    self.env._(
                        "%(field)s cannot be used in a rule: rules read the customer profile's "
                        "own stored fields and these customer attributes: %(relations)s",
                        field=path,
                        relations=", ".join(sorted(RULE_RELATIONS)),
                    )
                )
            if relation or field.type == "many2one":
                values = value if isinstance(value, list | tuple) else [value]
                if operator not in RULE_ID_OPERATORS or not all(
                    v is False or (isinstance(v, int) and not isinstance(v, bool)) for v in values
                ):
                    raise ValueError(
                        self.env._(
                            "%(field)s must be compared to record ids (=, !=, in, not in)",
                            field=path,
                        )
                    )
            elif path in lifecycle.RULE_FIELD_BOUNDS:
                low, high = lifecycle.RULE_FIELD_BOUNDS[path]
                values = value if isinstance(value, list | tuple) else [value]
                for v in values:
                    if not isinstance(v, int | float) or not (
                        math.isfinite(v) and low <= v <= high
                    ):
                        raise ValueError(
                            self.env._(
                                "%(field)s is compared to %(value)s: it must be between "
                                "%(low)s and %(high)s",
                                field=path,
                                value=v,
                                low=low,
                                high=high,
                            )
                        )

    def write(self, vals):
        # the record rules check the stages before the write: moving one of
        # the user's company's stages to another company, or to none (shared
        # by every company), is checked here
        if (
            "company_id" in vals
            and not self.env.su
            and not self.env.user.has_group("base.group_system")
        ):
            if vals["company_id"] not in self.env.user.company_ids.ids:
                raise AccessError(
                    self.env._(
                        "Only administrators can share a lifecycle stage with every company "
                        "or give it to a company you do not work for."
                    )
                )
        changed = [name for name in RULE_FIELDS if name in vals]
        if not changed:
            return super().write(vals)
        before = {stage.id: [stage[name] for name in changed] for stage in self}
        left = {stage.id: stage.company_id for stage in self}
        result = super().write(vals)
        moved = self.filtered(lambda stage: [stage[name] for name in changed] != before[stage.id])
        if moved:
            # the companies the stages left (moved to another company) and joined
            self.env["crm.retention.model"]._mark_redefined(
                self._companies_of(
                    [company for s in moved for company in (s.company_id, left[s.id])]
                )
            )
        return result

    @api.model_create_multi
    def create(self, vals_list):
        stages = super().create(vals_list)
        self.env["crm.retention.model"]._mark_redefined(stages._redefined_companies())
        return stages

    def unlink(self):
        companies = self._redefined_companies()
        result = super().unlink()
        self.env["crm.retention.model"]._mark_redefined(companies)
        return result

    def _redefined_companies(self):
        """The companies whose stage rules these stages are part of: theirs,
        or every company for a shared stage."""
        return self._companies_of([stage.company_id for stage in self])

    @api.model
    def _companies_of(self, companies):
        """The companies whose stage rules stages of ``companies`` (their
        ``company_id`` values, an empty one for a shared stage) are part of."""
        if any(not company for company in companies):
            return self.env["res.company"].sudo().search([])
        return self.env["res.company"].union(*companies)

    @api.model
    def _get_company_stages(self, company):
        """Stages that apply to ``company`` in evaluation order."""
        return self.search([("company_id", "in", [False, company.id])])
