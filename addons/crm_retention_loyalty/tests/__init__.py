from . import test_loyalty_coupons
