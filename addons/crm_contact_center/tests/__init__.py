from . import (
    test_api,
    test_api_hygiene,
    test_call_state,
    test_capture,
    test_cdr_import,
    test_csat,
    test_events_lib,
    test_interaction,
    test_pbx,
    test_queue,
    test_security,
    test_ui,
)
