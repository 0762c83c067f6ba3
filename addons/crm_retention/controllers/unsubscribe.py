from odoo import http
from odoo.http import request

from ..lib.unsubscribe import ONE_CLICK_FIELD, ONE_CLICK_VALUE


class RetentionUnsubscribe(http.Controller):
    """The unsubscribe link of the retention campaign e-mails.

    ``GET`` only shows a confirmation page: mail scanners and link previews
    fetch every link of an e-mail, and a fetch must not opt anybody out.
    ``POST`` opts out, either from the page's form (CSRF token of the page,
    optional "stop all e-mails" → ``mail.blacklist``) or as an RFC 8058
    one-click request of a mail client (body ``List-Unsubscribe=One-Click``,
    no session, hence ``csrf=False`` on the route and the form's token
    checked by hand). The signed token is checked first in every case.
    """

    @http.route(
        "/crm_retention/unsubscribe/<int:partner_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        website=False,
        sitemap=False,
    )
    def unsubscribe(self, partner_id, token, **post):
        partner = request.env["res.partner"]._retention_unsubscribe_partner(partner_id, token)
        if not partner:
            # one answer for an unknown partner, a forged token, a token of
            # another partner or of a former address: nothing to probe
            return self._render(partner, "invalid", status=403)
        if request.httprequest.method != "POST":
            return self._render(partner, "confirm")
        one_click = post.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
        if not one_click and not request.validate_csrf(post.get("csrf_token")):
            return self._render(partner, "expired", status=400)
        # one-click: only what the header announced (these offers), whatever
        # else the body holds; the blacklist is the customer's explicit choice
        blacklist = not one_click and bool(post.get("blacklist"))
        # partner is sudo (see _retention_unsubscribe_partner): safe, the
        # token signed for this partner and its current address was checked
        # above and the opt-out only touches this customer's own records
        partner._retention_opt_out("one_click" if one_click else "link", blacklist=blacklist)
        return self._render(partner, "done", blacklisted=partner.is_blacklisted)

    def _render(self, partner, state, status=200, **values):
        company = self._company(partner)
        if partner.lang:
            request.update_context(lang=partner.lang)
        return request.render(
            "crm_retention.unsubscribe_page",
            {
                "state": state,
                "company": company,
                "masked_email": partner and partner._retention_masked_email(),
                "action_url": request.httprequest.path,
                **values,
            },
            status=status,
        )

    def _company(self, partner):
        """The company the customer heard from: the one of its latest
        campaign, else its own, else the website visitor's default."""
        if partner:
            member = (
                request.env["crm.retention.campaign.member"]
                .sudo()
                .search([("partner_id", "=", partner.id)], order="id desc", limit=1)
            )
            if member or partner.company_id:
                return (member.company_id or partner.company_id).sudo()
        return request.env.company.sudo()
