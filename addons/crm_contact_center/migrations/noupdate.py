"""Rewrite records of a ``noupdate`` block from the module's own XML file.

An update skips the records of a ``<data noupdate="1">`` block whatever the
flag of their ``ir.model.data`` row, so a changed record rule never reaches an
existing database by itself. The version scripts call this with the records
they changed: the file stays the only definition of the rule.
"""

from pathlib import Path

from lxml import etree

from odoo import SUPERUSER_ID, api

MODULE_DIR = Path(__file__).parents[1]


def rewrite_from_file(cr, relpath, xmlids, fields=("name", "domain_force")):
    """Write ``fields`` of the records ``xmlids`` (of this module) as the
    module's file ``relpath`` defines them."""
    env = api.Environment(cr, SUPERUSER_ID, {})
    tree = etree.parse(str(MODULE_DIR / relpath))
    for xmlid in xmlids:
        record = env.ref(f"{MODULE_DIR.name}.{xmlid}", raise_if_not_found=False)
        if not record:
            continue
        [node] = tree.xpath(f"//record[@id='{xmlid}']")
        record.write({name: node.xpath(f"field[@name='{name}']")[0].text for name in fields})
