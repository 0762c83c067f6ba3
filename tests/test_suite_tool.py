"""tools/suite.py hands database names to psql as values, never as text: a
consultant's odd database name creates, finds and drops that database and
nothing else."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import suite  # noqa: E402


def test_odd_database_names_are_values_not_sql():
    odd = 'crm suite\'s "odd"; name'
    hostile = "x' OR '1'='1"
    suite.drop_db(odd)
    try:
        assert not suite.db_exists(odd)
        assert not suite.db_exists(hostile), "a quote in a name cannot widen the lookup"
        suite.clone_db("template0", odd)
        assert suite.db_exists(odd)
        assert suite.psql("SELECT current_database()", db=odd) == odd
        # a name that looks like connection options names a database, not a server
        assert not suite.db_exists("host=elsewhere dbname=postgres")
    finally:
        suite.drop_db(odd)
    assert not suite.db_exists(odd)
    assert suite.db_exists("postgres"), "dropping the odd name dropped nothing else"
