from . import (
    test_api,
    test_call_state,
    test_capture,
    test_csat,
    test_events_lib,
    test_interaction,
    test_queue,
    test_security,
    test_ui,
)
