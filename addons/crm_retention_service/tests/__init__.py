from . import test_health, test_health_lib, test_queue_priority, test_screen_pop
