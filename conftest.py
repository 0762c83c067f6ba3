"""Suite-wide pytest policy, applied to every addon's tests and to tests/.

Odoo skips tests quietly when something is missing (websocket-client or
Chromium for browser tours, an optional Python library...). A skipped test
proves nothing, so here a skip counts as a failure: the run exits non-zero
and the skip reason is printed. Set ``CRM_SUITE_ALLOW_SKIPS=1`` to relax this
while developing.
"""

import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not os.environ.get("CRM_SUITE_ALLOW_SKIPS"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped test counts as a failure in this suite: {reason}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Flag the running test the way Odoo's own runner does.

    Odoo code (mail queue, our recompute) skips ``cr.commit()`` when
    ``odoo.modules.module.current_test`` is set; pytest-odoo only sets it for
    Odoo 19+, so without this a cron method called from a test would commit.
    """
    import odoo.modules.module

    odoo.modules.module.current_test = getattr(item, "instance", None) or True


def pytest_runtest_teardown(item, nextitem):
    import odoo.modules.module

    if nextitem is None:
        odoo.modules.module.current_test = None
