"""Pure numpy/scipy/pandas computations (no Odoo imports)."""
