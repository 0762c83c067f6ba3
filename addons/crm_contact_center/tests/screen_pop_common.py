import json
from datetime import UTC, datetime

from odoo.addons.bus.models.bus import channel_with_db, json_dump

from ..lib.screen_pop import POP_TYPE, WITHDRAW_TYPE
from .common import ContactCenterCommon

URL = "/crm_contact_center/v1/events"


class ScreenPopCommon(ContactCenterCommon):
    """Posts call events through the real inbound API and reads the bus
    notifications each agent's web client would receive."""

    @classmethod
    def _setup_screen_pop(cls):
        cls._setup_contact_center()
        cls.source = cls.env["crm.interaction.source"].create(
            {
                "name": "Office PBX",
                "company_id": cls.company.id,
                "team_id": cls.team.id,
                "channel_ids": [(6, 0, [cls.channel["phone"].id])],
            }
        )
        cls.key = cls.source.generate_api_key()
        cls.customer.user_id = False  # the team's queue, unless a test says otherwise
        cls.agent1.contact_center_extension = "201"
        cls.agent2.contact_center_extension = "202"

    def _online(self, *users):
        self.env["bus.presence"].create([{"user_id": u.id, "status": "online"} for u in users])

    def _post(self, payload):
        response = self.opener.post(
            self.base_url() + URL,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        return response.status_code, response.json()

    def _call(self, kind, call_id="pop-1", phone="+32 2 555 12 34", **extra):
        sender = {"phone": phone} if phone else {}
        return {
            "event": kind,
            "id": call_id,
            "timestamp": datetime.now(UTC).isoformat(),
            "from": extra.pop("sender", sender),
            **extra,
        }

    def _notifications(self, user, kind=POP_TYPE):
        """The payloads of ``kind`` sent to ``user``'s partner channel, oldest first."""
        self.env.cr.flush()  # the bus rows are written when the transaction commits
        channel = json_dump(channel_with_db(self.env.cr.dbname, user.partner_id))
        messages = [
            json.loads(row.message)
            for row in self.env["bus.bus"].sudo().search([("channel", "=", channel)], order="id")
        ]
        return [m["payload"] for m in messages if m["type"] == kind]

    def _withdrawals(self, user):
        return self._notifications(user, WITHDRAW_TYPE)
