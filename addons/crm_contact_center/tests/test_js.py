from odoo.addons.web.tests.test_js import unit_test_error_checker
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestScreenPopCardJs(HttpCase):
    def test_screen_pop_card_hoot(self):
        """The Hoot unit tests of the screen pop card (static/tests/*.test.js)."""
        self.browser_js(
            "/web/tests?headless&loglevel=2&preset=desktop&timeout=15000&filter=screen_pop_card",
            "",
            "",
            login="admin",
            timeout=900,
            success_signal="[HOOT] Test suite succeeded",
            error_checker=unit_test_error_checker,
        )
