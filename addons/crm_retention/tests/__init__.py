from . import test_clv, test_lifecycle, test_recompute, test_security, test_ui
