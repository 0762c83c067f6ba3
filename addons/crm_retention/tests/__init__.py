from . import test_clv
from . import test_lifecycle
from . import test_recompute
from . import test_security
from . import test_ui
