from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

MAX_RESPONSE_TIME_HOURS = 24 * 366  # a service level beyond a year is a typo
MAX_SEQUENCE = 1_000_000


class CrmInteractionChannel(models.Model):
    """A way customers and the company talk to each other.

    Shipped channels cover phone, IP telephony, e-mail, web forms / portal,
    live chat, social networks, SMS, meetings and surveys; supervisors add
    their own. Shared channels (no company) are changed by administrators only
    (record rules): every company's integrations send their codes. ``code`` is what integrations send in the inbound API's
    ``channel`` field, so it is unique and never translated.
    """

    _name = "crm.interaction.channel"
    _description = "Interaction Channel"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        help="Technical code used by integrations (e.g. 'phone', 'ip_phone', 'chat').",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    icon = fields.Char(default="fa-comments", help="Font Awesome icon, e.g. fa-phone.")
    color = fields.Integer()
    is_realtime = fields.Boolean(
        string="Real-time",
        help="Calls and chats: a request not answered at once is missed and needs a callback.",
    )
    response_time_hours = fields.Float(
        string="Response Target (hours)",
        default=24.0,
        help="Service level: an inbound request should be answered within this time. Counted "
        "in the working hours of the request's team when the team has some, else around the "
        "clock. 0: no deadline.",
    )
    response_time_high_hours = fields.Float(
        string="Response Target, High Priority (hours)",
        help="Target of the requests of high priority (e.g. valuable customers at risk). "
        "0: the normal target.",
    )
    response_time_urgent_hours = fields.Float(
        string="Response Target, Urgent (hours)",
        help="Target of the urgent requests. 0: the high-priority target (or the normal one).",
    )
    # satisfaction
    rating_auto = fields.Boolean(
        string="Ask for a Rating When Handled",
        help="When an inbound request of this channel is closed as handled (outcome Resolved, "
        "Follow-up needed or Opportunity), the contact is e-mailed the satisfaction request, "
        "at most once per the period set in the settings, never without an e-mail address.",
    )
    company_id = fields.Many2one("res.company", help="Leave empty to share the channel.")

    _sql_constraints = [
        ("code_company_uniq", "UNIQUE(code, company_id)", "The channel code must be unique."),
        (
            "response_time_positive",
            "CHECK(response_time_hours >= 0)",
            "The response target cannot be negative.",
        ),
    ]

    # fields whose change moves the deadline of the channel's open requests
    _SLA_FIELDS = ("response_time_hours", "response_time_high_hours", "response_time_urgent_hours")

    def write(self, vals):
        # the record rules check the channels before the write only: moving a
        # channel of the user's company to none (shared by every company) or
        # to a company he does not work for is checked here
        if (
            "company_id" in vals
            and not self.env.su
            and not self.env.user.has_group("base.group_system")
            and vals["company_id"] not in self.env.user.company_ids.ids
        ):
            raise AccessError(
                self.env._(
                    "Only administrators can share a channel with every company or give it"
                    " to a company you do not work for."
                )
            )
        result = super().write(vals)
        if "active" in vals or "code" in vals:
            # the API's allowed channels (crm.interaction.source._allowed_channels)
            self.env.registry.clear_cache()
        if any(fname in vals for fname in self._SLA_FIELDS):
            self.env["crm.interaction"]._recompute_open_deadlines([("channel_id", "in", self.ids)])
        return result

    def unlink(self):
        self.env.registry.clear_cache()  # crm.interaction.source._allowed_channels
        return super().unlink()

    @api.constrains(*_SLA_FIELDS, "sequence")
    def _check_bounds(self):
        for channel in self:
            if not all(
                0 <= channel[fname] <= MAX_RESPONSE_TIME_HOURS for fname in self._SLA_FIELDS
            ):
                raise ValidationError(
                    self.env._(
                        "The response targets of channel %(channel)s must be between 0 and"
                        " %(max)s hours.",
                        channel=channel.name,
                        max=MAX_RESPONSE_TIME_HOURS,
                    )
                )
            if not 0 <= channel.sequence <= MAX_SEQUENCE:
                raise ValidationError(
                    self.env._(
                        "The sequence of channel %(channel)s must be between 0 and %(max)s.",
                        channel=channel.name,
                        max=MAX_SEQUENCE,
                    )
                )

    def _response_time_for(self, priority):
        """The response target in hours of a request of ``priority`` ("0"
        normal, "1" high, "2" urgent) on this channel: the priority's own
        target, else the next lower priority's, down to the normal one."""
        self.ensure_one()
        targets = {
            "2": self.response_time_urgent_hours,
            "1": self.response_time_high_hours,
            "0": self.response_time_hours,
        }
        for level in ("2", "1", "0"):
            if level <= (priority or "0") and targets[level]:
                return targets[level]
        return 0.0
