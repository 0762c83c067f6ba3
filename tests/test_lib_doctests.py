"""Every doctest of every addon's ``lib/`` runs: the examples in the pure
modules' docstrings are their first tests, and a module added to a ``lib/``
is found here without anyone listing it."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB_MODULES = sorted(path for path in ROOT.glob("addons/*/lib/*.py") if path.name != "__init__.py")


def test_the_libraries_are_found():
    names = {f"{p.parent.parent.name}/{p.stem}" for p in LIB_MODULES}
    assert {"crm_retention/lifecycle", "crm_kpi/cohort", "crm_contact_center/events"} <= names


@pytest.mark.parametrize("path", LIB_MODULES, ids=lambda p: f"{p.parent.parent.name}.{p.stem}")
def test_lib_doctests(path):
    module = importlib.import_module(f"odoo.addons.{path.parent.parent.name}.lib.{path.stem}")
    result = doctest.testmod(module, optionflags=doctest.IGNORE_EXCEPTION_DETAIL)
    assert result.failed == 0, f"{result.failed} doctest(s) of {path} failed"
    if ">>> " in path.read_text():
        assert result.attempted > 0, f"the examples of {path} were not collected"
