from . import test_health, test_health_lib
