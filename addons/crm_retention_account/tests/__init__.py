from . import test_invoice_source
