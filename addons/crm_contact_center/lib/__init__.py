"""Plain Python, no ``odoo`` import: the inbound event schema and request signatures."""
