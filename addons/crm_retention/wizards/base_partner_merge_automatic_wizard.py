from odoo import fields, models
from odoo.tools import SQL


class MergePartnerAutomatic(models.TransientModel):
    """Keep lifecycle profiles and their history through a partner merge.

    The stock merge re-points foreign keys in SQL and, when a unique
    constraint blocks it (both partners have a profile in the same
    company), deletes the source rows: that would drop the source's
    profile and, by cascade, its stage history. Here the source's history
    is moved to the destination's profile first (with a "merge" entry), so
    only the now empty source profile goes; the destination's metrics are
    then recomputed from the merged deals, and so are those of the company
    a merged contact belonged to.
    """

    _inherit = "base.partner.merge.automatic.wizard"

    def _update_foreign_keys(self, src_partners, dst_partner):
        Profile = self.env["crm.customer.profile"].sudo()
        # profiles belong to commercial partners (merging into a contact)
        dst_customer = dst_partner.commercial_partner_id
        src_profiles = Profile.search([("partner_id", "in", src_partners.ids)])
        dst_profiles = {
            p.company_id: p for p in Profile.search([("partner_id", "=", dst_customer.id)])
        }
        # a merged contact's deals leave its company for the destination:
        # that customer is refreshed too (the nightly run trusts the
        # aggregates the profiles store)
        src_customers = src_partners.commercial_partner_id - dst_customer - src_partners
        companies = src_profiles.company_id.union(
            *dst_profiles, Profile.search([("partner_id", "in", src_customers.ids)]).company_id
        )
        now = fields.Datetime.now()
        for src in src_profiles:
            dst = dst_profiles.get(src.company_id)
            if not dst:
                # the destination takes over this company's profile as it is
                src.partner_id = dst_customer
                dst_profiles[src.company_id] = src
                continue
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    "UPDATE crm_lifecycle_history SET profile_id = %s, partner_id = %s "
                    "WHERE profile_id = %s",
                    dst.id,
                    dst_customer.id,
                    src.id,
                )
            )
            if dst.stage_id or src.stage_id:
                self.env["crm.lifecycle.history"].sudo().create(
                    {
                        "profile_id": dst.id,
                        "from_stage_id": src.stage_id.id,
                        "stage_id": (dst.stage_id or src.stage_id).id,
                        "date": now,
                        "reason": "merge",
                        "note": self.env._("Merged from %s", src.partner_id.display_name),
                    }
                )
            self.env["crm.lifecycle.history"].invalidate_model()
            # campaign members follow the customer (the stock merge then
            # re-points their partner; when both were in the same campaign
            # it keeps the destination's membership)
            self.env.cr.execute(
                SQL(
                    "UPDATE crm_retention_campaign_member SET profile_id = %s "
                    "WHERE profile_id = %s",
                    dst.id,
                    src.id,
                )
            )
            self.env["crm.retention.campaign.member"].invalidate_model(["profile_id"])
            src.unlink()
        res = super()._update_foreign_keys(src_partners, dst_partner)
        for company in companies:
            Profile._recompute_partners([dst_customer.id, *src_customers.ids], company)
        # the stage filter field follows, so the merged value is already right
        Profile.search([("partner_id", "=", dst_customer.id)])._sync_partner_stage()
        return res
