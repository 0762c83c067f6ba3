"""Plain Python, no ``odoo`` import: the inbound event schema and request signatures
(``events``), deadlines in working time (``sla``)."""
