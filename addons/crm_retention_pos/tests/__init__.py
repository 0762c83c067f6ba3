from . import test_pos_source
