from odoo import fields, models


class CrmRetentionCampaign(models.Model):
    """A campaign's offer as a loyalty coupon program.

    With unique codes on, the launch creates one ``coupons`` program per
    campaign (its reward is the campaign's discount) and one single-use
    coupon per treated member, so the discount is applied by the stock
    loyalty flow at the point of sale or in quotations.
    """

    _inherit = "crm.retention.campaign"

    loyalty_program_id = fields.Many2one(
        "loyalty.program",
        string="Coupon Program",
        copy=False,
        ondelete="set null",
        check_company=True,
        help="Created at launch: one single-use coupon per treated member.",
    )

    def _uses_loyalty_coupons(self):
        self.ensure_one()
        return self.offer_use_codes and self.offer_type in ("percentage", "fixed")

    def _get_or_create_loyalty_program(self):
        """The coupon program of the campaign, created on first use."""
        self.ensure_one()
        if self.loyalty_program_id:
            return self.loyalty_program_id
        Program = self.env["loyalty.program"].sudo()
        program = Program.create(
            {
                "name": self.name,
                "program_type": "coupons",
                "company_id": self.company_id.id,
                "date_to": fields.Date.add(
                    self.date_start or fields.Date.context_today(self),
                    days=self.outcome_days + self.offer_validity_days,
                ),
            }
        )
        # the campaign steps send the code: no loyalty e-mail of its own
        program.write(
            {
                "communication_plan_ids": [(5, 0, 0)],
                "reward_ids": [
                    (5, 0, 0),
                    (
                        0,
                        0,
                        {
                            "reward_type": "discount",
                            "discount": self.offer_value,
                            "discount_mode": "percent"
                            if self.offer_type == "percentage"
                            else "per_order",
                            "required_points": 1,
                        },
                    ),
                ],
            }
        )
        self.loyalty_program_id = program
        return program

    def action_view_loyalty_coupons(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty.loyalty_card_action")
        action["domain"] = [("program_id", "=", self.loyalty_program_id.id)]
        action["context"] = {"create": False}
        return action
