"""Index handling of a bulk load: the journal of dropped indexes, their rebuild by parallel jobs, NOT NULL and foreign-key checks."""

import re
import sys
import threading
import time

try:  # imported as bench.crmgen
    from .. import _db
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    import _db
from .constants import JOURNAL
from .util import log


# ---------------------------------------------------------------------------
# indexes
# ---------------------------------------------------------------------------
def restore_journal(conn):
    """Recreate the indexes an interrupted run left dropped (journal table),
    then drop the journal. Returns the number of indexes restored."""
    cr = conn.cursor()
    if not _db.table_exists(cr, JOURNAL):
        conn.rollback()
        return 0
    cr.execute(f"SELECT name, tbl, def FROM {JOURNAL} ORDER BY tbl, name")
    rows = cr.fetchall()
    for name, tbl, definition in rows:
        cr.execute("SELECT to_regclass(%s) IS NULL", (name,))
        if cr.fetchone()[0]:
            log(f"  restoring index {name} on {tbl}")
            cr.execute(definition)
    cr.execute(f"DROP TABLE {JOURNAL}")
    conn.commit()
    return len(rows)


def drop_indexes(cr, table, journal, filled):
    """Drop the secondary indexes of ``table`` (recording them in the journal
    table, in the same transaction, when ``journal``); returns the list of
    (table, name, definition). Partial indexes ``WHERE col IS NOT NULL`` on a
    column the load leaves NULL stay: the new rows cost them nothing, while a
    rebuild would scan the whole table."""
    dropped = []
    if journal:
        cr.execute(
            f"CREATE TABLE IF NOT EXISTS {JOURNAL} (name text PRIMARY KEY, tbl text, def text, "
            "dropped timestamp DEFAULT now())"
        )
    for name, definition, predicate in _db.secondary_indexes(cr, table):
        m = re.fullmatch(r"\(*(\w+) IS NOT NULL\)*", predicate or "")
        if m and m.group(1) not in filled:
            continue
        if journal:
            cr.execute(
                f"INSERT INTO {JOURNAL} (name, tbl, def) VALUES (%s, %s, %s)",
                (name, table, definition),
            )
        cr.execute(f'DROP INDEX "{name}"')
        dropped.append((table, name, definition))
    return dropped


def index_cost(task, rows):
    """Rough relative build cost, to start the longest builds first."""
    table, _, definition = task
    d = definition.lower()
    weight = (
        12 if "gin_trgm_ops" in d else 6 if "using gin" in d else 2 if "regexp_replace" in d else 1
    )
    return weight * rows.get(table, 1)


class IndexBuilder:
    """Rebuilds dropped indexes with worker threads, one connection each,
    each CREATE INDEX committed on its own and struck from the journal;
    longest builds first. Tasks can be added while it runs."""

    def __init__(self, args):
        self.args = args
        self.todo = []
        self.rows = {}
        self.cond = threading.Condition()
        self.closed = False
        self.threads = []
        self.timings = []
        self.errors = []
        self.server_cpu = 0.0

    def add(self, tasks, rows):
        with self.cond:
            self.rows.update(rows)
            self.todo.extend(tasks)
            self.todo.sort(key=lambda t: index_cost(t, self.rows), reverse=True)
            self.cond.notify_all()

    def workers(self, k):
        while len(self.threads) < k:
            th = threading.Thread(target=self._work, name=f"index-{len(self.threads)}")
            th.start()
            self.threads.append(th)

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def join(self):
        self.close()
        for th in self.threads:
            th.join()
        if self.errors:
            name, exc = self.errors[0]
            raise RuntimeError(
                f"index rebuild failed: {name}: {exc} (definitions left in {JOURNAL}; "
                "rerun with --restore-indexes)"
            )
        return self.timings

    def _work(self):
        try:
            c = _db.connect(self.args.database, self.args.dsn, "bench-generate-index")
        except Exception as exc:
            self.errors.append(("connect", exc))
            return
        try:
            cr = c.cursor()
            cr.execute("SET maintenance_work_mem = %s", (self.args.maintenance_work_mem,))
            cr.execute("SET max_parallel_maintenance_workers = 0")
            cr.execute("SET synchronous_commit = off")
            c.commit()
            while True:
                with self.cond:
                    while not self.todo and not self.closed and not self.errors:
                        self.cond.wait()
                    if not self.todo or self.errors:
                        return
                    table, name, definition = self.todo.pop(0)
                t = time.perf_counter()
                try:
                    cr.execute("SELECT to_regclass(%s) IS NULL", (name,))
                    if cr.fetchone()[0]:
                        cr.execute(definition)
                    cr.execute(f"DELETE FROM {JOURNAL} WHERE name = %s", (name,))
                    c.commit()
                except Exception as exc:
                    c.rollback()
                    self.errors.append((name, exc))
                    return
                self.timings.append((table, name, time.perf_counter() - t))
        finally:
            self.server_cpu += _db.backend_cpu(c) or 0.0
            c.close()


# ---------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------
def check_not_null(cr, table, filled):
    """Columns left to their default (NULL) by the load, and values for the
    NOT NULL ones a module added without a database default.

    Such a column (``autopost_bills`` on res_partner once ``account`` is
    installed, before this script generated it) gets the value most
    existing rows hold: ``set_fill_defaults`` makes it a temporary column
    DEFAULT just before the table's COPY, in its transaction, and
    ``drop_fill_defaults`` removes it before the commit. Checked for every
    table before anything is loaded: without existing rows there is nothing
    to copy, so stop.
    """
    cols = _db.table_columns(cr, table)
    missing = [
        c for c, (_, notnull, hasdef) in cols.items() if notnull and not hasdef and c not in filled
    ]
    fill = {}
    for c in missing:
        cr.execute(
            f'SELECT "{c}" FROM {table} WHERE "{c}" IS NOT NULL '
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
        row = cr.fetchone()
        if row is None:
            sys.exit(
                f"{table}: NOT NULL column {c!r} is not generated and no existing row shows "
                "a value for it (a module added it); extend bench/generate.py"
            )
        fill[c] = row[0]
    if fill:
        log(f"{table}: {', '.join(fill)} filled with the most common existing value")
    return [c for c in cols if c not in filled and c not in fill and c != "id"], fill


def set_fill_defaults(cr, table, fill):
    """Temporary column defaults for ``check_not_null``'s columns."""
    for c, value in fill.items():
        cr.execute(f'ALTER TABLE {table} ALTER COLUMN "{c}" SET DEFAULT %s', [value])


def drop_fill_defaults(cr, table, fill):
    """Remove the temporary defaults of ``set_fill_defaults`` (same transaction)."""
    for c in fill:
        cr.execute(f'ALTER TABLE {table} ALTER COLUMN "{c}" DROP DEFAULT')


def verify_fks(cr, table, filled, first, last):
    bad = []
    for con, col, ref, refcol in _db.foreign_keys(cr, table):
        if col not in filled:
            continue
        cr.execute(
            f'SELECT count(*) FROM {table} t WHERE t.id BETWEEN %s AND %s AND t."{col}" IS NOT NULL '
            f'AND NOT EXISTS (SELECT 1 FROM {ref} r WHERE r."{refcol}" = t."{col}")',
            (first, last),
        )
        n = cr.fetchone()[0]
        if n:
            bad.append(f"{con}: {n} rows")
    if bad:
        raise RuntimeError(f"{table}: foreign keys violated: {bad}")
