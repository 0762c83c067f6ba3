from . import (
    test_campaign,
    test_campaign_lib,
    test_campaign_security,
    test_campaign_ui,
    test_clv,
    test_demo,
    test_lifecycle,
    test_lifecycle_integrity,
    test_my_customers,
    test_recompute,
    test_security,
    test_ui,
)
