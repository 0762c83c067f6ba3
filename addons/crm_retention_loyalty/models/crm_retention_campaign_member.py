from odoo import fields, models


class CrmRetentionCampaignMember(models.Model):
    """Members get a loyalty coupon instead of the campaign's own code."""

    _inherit = "crm.retention.campaign.member"

    loyalty_card_id = fields.Many2one("loyalty.card", string="Coupon", ondelete="set null")

    def _assign_offer_codes(self):
        handled = self.browse()
        for campaign, members in self.grouped("campaign_id").items():
            if not campaign._uses_loyalty_coupons():
                continue
            program = campaign._get_or_create_loyalty_program()
            Card = self.env["loyalty.card"].sudo()
            prefix = (campaign.offer_code_prefix or "").upper()
            cards = Card.create(
                [
                    {
                        "program_id": program.id,
                        "partner_id": member.partner_id.id,
                        "points": 1,
                        "code": prefix + Card._generate_code(),
                        "expiration_date": fields.Date.add(
                            member.enrol_date, days=campaign.offer_validity_days
                        ),
                    }
                    for member in members
                ]
            )
            members._write_offers(
                {
                    "loyalty_card_id": cards.ids,
                    "offer_code": cards.mapped("code"),
                    "offer_expiry_date": cards.mapped("expiration_date"),
                }
            )
            handled |= members
        return super(CrmRetentionCampaignMember, self - handled)._assign_offer_codes()
