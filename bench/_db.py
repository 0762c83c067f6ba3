"""PostgreSQL helpers shared by the bench scripts.

* ``connect`` -- psycopg2 connection from ``--dsn`` / ``-d`` and the libpq
  environment (PGHOST, PGPORT, PGUSER, ...).
* catalog look-ups: ``table_exists``, ``table_columns``, ``secondary_indexes``,
  ``foreign_keys``, ``is_superuser``, ``user_triggers``.
* ``reserve_ids`` -- take a contiguous block of ids from a table's own serial
  sequence so that later ORM creates never collide with the generated rows.
* binary COPY encoder (``Fixed``, ``enc_text``, ``enc_vocab``, ``encode_rows``)
  -- builds ``COPY ... FROM STDIN (FORMAT binary)`` payloads with numpy and
  C-level joins (no Python loop per row), and
  ``copy_binary`` streams them from a producer (the caller) to a consumer
  thread running ``copy_expert``, so that numpy work on one core overlaps the
  server's COPY work on the other.

The binary COPY format: 11-byte signature, int32 flags, int32 header-extension
length; each tuple = int16 field count, then per field int32 byte length (-1
for NULL) followed by the value in the type's binary ``*_recv`` format (all
integers big-endian); int16 -1 trailer.
"""

import os
import queue
import struct
import threading
import time
from itertools import chain

import numpy as np
import psycopg2

PG_EPOCH_UNIX = 946684800  # 2000-01-01T00:00:00Z, origin of binary timestamps
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"


# ---------------------------------------------------------------------------
# connection and catalog
# ---------------------------------------------------------------------------
def connect(database, dsn=None, application_name="bench"):
    """Connect with libpq semantics: ``dsn`` may hold host/port/user (or be a
    URI); ``database`` wins over a dbname given there; anything missing comes
    from PGHOST/PGPORT/PGUSER/... or the libpq defaults (unix socket)."""
    kwargs = {"application_name": application_name}
    if database:
        kwargs["dbname"] = database
    return psycopg2.connect(dsn or "", **kwargs)


def table_exists(cr, table):
    cr.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    return cr.fetchone()[0]


def table_columns(cr, table):
    """{column: (sql type, not null, has default)} of a table."""
    cr.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
             FROM pg_attribute a
            WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""",
        (table,),
    )
    return {name: (typ, notnull, hasdef) for name, typ, notnull, hasdef in cr.fetchall()}


def secondary_indexes(cr, table):
    """[(name, CREATE INDEX statement, predicate or None)] of the indexes of
    ``table`` that can be dropped and rebuilt without touching a constraint:
    not the primary key, no unique index, nothing that backs a constraint."""
    cr.execute(
        """SELECT c.relname, pg_get_indexdef(i.indexrelid), pg_get_expr(i.indpred, i.indrelid)
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass
              AND NOT i.indisprimary AND NOT i.indisunique AND i.indisvalid
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            ORDER BY pg_relation_size(i.indexrelid) DESC, c.relname""",
        (table,),
    )
    return cr.fetchall()


def foreign_keys(cr, table):
    """[(constraint, column, referenced table, referenced column)] for the
    single-column foreign keys of ``table``."""
    cr.execute(
        """SELECT k.conname, a.attname, k.confrelid::regclass::text, fa.attname
             FROM pg_constraint k
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
             JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1]
            WHERE k.contype = 'f' AND k.conrelid = %s::regclass
              AND array_length(k.conkey, 1) = 1
            ORDER BY k.conname""",
        (table,),
    )
    return cr.fetchall()


def backend_cpu(conn):
    """CPU seconds used so far by the server process of ``conn`` (only for a
    server on this Linux machine, readable /proc), else None."""
    try:
        with open(f"/proc/{conn.info.backend_pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError, IndexError):
        return None


def is_superuser(cr):
    cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cr.fetchone()
    return bool(row and row[0])


def user_triggers(cr, table):
    """Names of the non-internal (user) triggers of ``table``; Odoo defines
    none, foreign keys are implemented by internal triggers."""
    cr.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
        (table,),
    )
    return [r[0] for r in cr.fetchall()]


def reserve_ids(cr, table, n):
    """Reserve ``n`` consecutive ids of ``table`` from its own id sequence and
    return the first one. The caller must hold a lock that keeps other
    sessions from inserting into the table (SHARE ROW EXCLUSIVE or stronger),
    so that no ORM create can draw an id between our nextval and setval.
    Sequence changes are not transactional: after a rollback the block is
    simply skipped (a harmless gap)."""
    cr.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
    seq = cr.fetchone()[0]
    if not seq:
        raise RuntimeError(f"{table}.id has no sequence")
    cr.execute(
        "SELECT increment_by FROM pg_sequences WHERE format('%%I.%%I', schemaname, sequencename) = %s"
        " OR sequencename = %s",
        (seq, seq.split(".")[-1]),
    )
    row = cr.fetchone()
    if row and row[0] != 1:
        raise RuntimeError(f"{seq} has increment {row[0]}, expected 1")
    if n <= 0:
        return None
    cr.execute(
        f"SELECT GREATEST(nextval(%s), (SELECT COALESCE(max(id), 0) + 1 FROM {table}))",
        (seq,),
    )
    first = cr.fetchone()[0]
    cr.execute("SELECT setval(%s, %s)", (seq, first + n - 1))
    return first


# ---------------------------------------------------------------------------
# binary COPY encoding
# ---------------------------------------------------------------------------
# Text values are numpy object arrays of ``bytes`` (built with vectorised
# object-array operations: ``a + b' ' + b``, fancy indexing, ``np.where``), and
# *encoded* text fields are such arrays whose items already carry the int32
# length header (``enc_text``, ``enc_vocab``). Fixed-width fields are (n, w)
# uint8 matrices of big-endian values plus an optional NULL mask (``Fixed``).
# ``encode_rows`` groups the rows by their NULL pattern over the fixed fields,
# so that each group's fixed part is one dense matrix (one numpy hstack), turns
# it into one bytes object per row, and joins rows and text fields with
# ``b"".join`` over a zip (C loops only, ~1 us per row).

NULL = b"\xff\xff\xff\xff"


def objects(seq):
    """1-D numpy object array of bytes (str items are UTF-8 encoded)."""
    out = np.empty(len(seq), dtype=object)
    out[:] = [x.encode() if isinstance(x, str) else x for x in seq]
    return out


def int_text(values):
    """Decimal text (bytes objects) of an integer array."""
    return np.asarray(values, dtype=np.int64).astype("S").astype(object)


def _headers(lengths):
    return np.asarray(lengths, dtype=">i4").view("V4").astype(object)


def enc_text(values, null=None):
    """Encoded text fields (length header + bytes) of an object array of
    bytes; NULL where ``null``."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    out = _headers(lengths) + values
    if null is not None:
        out = np.where(null, NULL, out)
    return out


def enc_vocab(strings):
    """Encoded fields of a small list of strings, with a NULL entry appended:
    index -1 gives NULL."""
    vals = [s.encode() if isinstance(s, str) else s for s in strings]
    out = np.empty(len(vals) + 1, dtype=object)
    out[:-1] = [struct.pack(">i", len(v)) + v for v in vals]
    out[-1] = NULL
    return out


class Fixed:
    """A fixed-width field: ``matrix`` (n, w) uint8 of the value in binary
    format, ``null`` an optional bool mask."""

    __slots__ = ("matrix", "null")

    def __init__(self, matrix, null=None):
        self.matrix = matrix
        self.null = None if null is None else np.asarray(null, dtype=bool)

    @staticmethod
    def _be(values, dtype):
        arr = np.ascontiguousarray(np.asarray(values).astype(dtype))
        return arr.view(np.uint8).reshape(len(arr), np.dtype(dtype).itemsize)

    @classmethod
    def int4(cls, values, null=None):
        return cls(cls._be(values, ">i4"), null)

    @classmethod
    def int8(cls, values, null=None):
        return cls(cls._be(values, ">i8"), null)

    @classmethod
    def float8(cls, values, null=None):
        return cls(cls._be(values, ">f8"), null)

    @classmethod
    def bool(cls, values, null=None):
        return cls(np.asarray(values, dtype=bool).astype(np.uint8).reshape(-1, 1), null)

    @classmethod
    def timestamp(cls, unix_seconds, null=None):
        """``timestamp without time zone`` from unix seconds, truncated to
        whole seconds like Odoo's Datetime fields."""
        us = (
            np.floor(np.asarray(unix_seconds, dtype=np.float64)).astype(np.int64) - PG_EPOCH_UNIX
        ) * 1_000_000
        return cls(cls._be(us, ">i8"), null)

    @classmethod
    def date(cls, unix_seconds, null=None):
        days = np.floor(
            (np.asarray(unix_seconds, dtype=np.float64) - PG_EPOCH_UNIX) / 86400
        ).astype(np.int64)
        return cls(cls._be(days, ">i4"), null)

    @classmethod
    def numeric_int(cls, values, null=None):
        """``numeric`` from integers 0 <= v < 10**12. Binary numeric = int16
        ndigits, weight, sign, dscale + base-10000 digits; fixed 3 digits of
        weight 2 here, the server strips leading/trailing zero digits."""
        v = np.asarray(values, dtype=np.int64)
        if len(v) and (v.min() < 0 or v.max() >= 10**12):
            raise ValueError("numeric_int handles 0 <= value < 1e12")
        words = np.empty((len(v), 7), dtype=">i2")
        words[:, 0] = 3
        words[:, 1] = 2
        words[:, 2] = 0  # NUMERIC_POS
        words[:, 3] = 0  # dscale
        words[:, 4] = v // 100_000_000
        words[:, 5] = (v // 10_000) % 10_000
        words[:, 6] = v % 10_000
        return cls(words.view(np.uint8).reshape(len(v), 14), null)

    @classmethod
    def numeric_zero(cls, n):
        """``numeric`` 0 (ndigits 0)."""
        return cls(np.zeros((n, 8), dtype=np.uint8))

    @classmethod
    def const_text(cls, s, n):
        b = s.encode()
        # the header is added by encode_rows: store only the bytes
        return cls(np.tile(np.frombuffer(b, np.uint8), (n, 1)))


def _fixed_rows(fixed, n, count):
    """One bytes object per row for the fixed fields (headers included),
    preceded by the int16 field count when ``count`` is not None."""
    nullable = [f.null for f in fixed if f.null is not None]
    if nullable:
        key = np.zeros(n, dtype=np.int64)
        for bit, null in enumerate(nullable):
            key |= null.astype(np.int64) << bit
        patterns, inverse = np.unique(key, return_inverse=True)
    else:
        patterns, inverse = np.zeros(1, np.int64), None
    out = np.empty(n, dtype=object)
    null4 = np.frombuffer(NULL, np.uint8)
    for p, pattern in enumerate(patterns):
        rows = np.flatnonzero(inverse == p) if inverse is not None else np.arange(n)
        m = len(rows)
        if not m:
            continue
        parts = []
        if count is not None:
            parts.append(np.tile(np.frombuffer(struct.pack(">h", count), np.uint8), (m, 1)))
        bit = 0
        for f in fixed:
            is_null = False
            if f.null is not None:
                is_null = bool((pattern >> bit) & 1)
                bit += 1
            if is_null:
                parts.append(np.broadcast_to(null4, (m, 4)))
            else:
                w = f.matrix.shape[1]
                parts.append(np.broadcast_to(np.frombuffer(struct.pack(">i", w), np.uint8), (m, 4)))
                parts.append(f.matrix if inverse is None else f.matrix[rows])
        block = np.ascontiguousarray(np.hstack(parts)) if parts else np.zeros((m, 0), np.uint8)
        width = block.shape[1]
        if width:
            out[rows] = block.view(f"V{width}").ravel().astype(object)
        else:
            out[rows] = b""
    return out


def encode_rows(fixed, texts, n, header=True):
    """Binary COPY tuples: the fields are ``fixed`` (list of Fixed) followed by
    ``texts`` (encoded object arrays, see ``enc_text``; an item may hold
    several encoded fields, ``nfields`` counts them). With ``header=True``
    returns the bytes of n tuples; else an object array with, per row, the
    encoded fields without the field count (to reuse as a text item)."""
    if header:
        count = len(fixed) + sum(getattr(t, "nfields", 1) for t in texts)
        rows = _fixed_rows(fixed, n, count)
        if not texts:
            return b"".join(rows)
        return b"".join(chain.from_iterable(zip(rows, *texts, strict=True)))
    rows = _fixed_rows(fixed, n, None)
    out = np.empty(n, dtype=object)
    out[:] = list(map(b"".join, zip(rows, *texts, strict=True)))
    return out


class Multi(np.ndarray):
    """Object array whose items each hold ``nfields`` encoded fields."""

    @classmethod
    def of(cls, arr, nfields):
        m = np.asarray(arr).view(cls)
        m.nfields = nfields
        return m

    def __array_finalize__(self, obj):
        self.nfields = getattr(obj, "nfields", 1)


# ---------------------------------------------------------------------------
# streaming COPY
# ---------------------------------------------------------------------------
class _ProducerFailed(Exception):
    pass


class _QueueReader:
    """File-like object over a queue of bytes chunks (None = end, an
    exception instance = abort the COPY)."""

    def __init__(self, q):
        self.q = q
        self.buf = memoryview(b"")
        self.done = False
        self.bytes = 0

    def read(self, size=-1):
        while not self.done and len(self.buf) == 0:
            item = self.q.get()
            if item is None:
                self.done = True
                break
            if isinstance(item, BaseException):
                self.done = True
                raise item  # psycopg2 then aborts the COPY (CopyFail)
            self.buf = memoryview(item)
        if size is None or size < 0:
            size = len(self.buf)
        out, self.buf = self.buf[:size], self.buf[size:]
        self.bytes += len(out)
        return out.tobytes()

    readline = read


def copy_binary(cr, table, columns, chunks, depth=2):
    """COPY ``table`` (``columns``) FROM STDIN in binary format, with the
    payload produced by the iterable ``chunks`` (bytes-like objects, each a
    whole number of tuples). The COPY runs in a worker thread so that the
    producer's numpy work overlaps the server's COPY work; at most ``depth``
    chunks wait in between. If the producer raises, the COPY is aborted
    (the transaction is then in error and must be rolled back). Returns
    (rows reported by the server, bytes sent, seconds spent producing,
    seconds the producer waited on the server)."""
    q = queue.Queue(maxsize=depth)
    reader = _QueueReader(q)
    result = {}

    def consume():
        try:
            cr.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)",
                reader,
                size=1 << 20,
            )
            result["rows"] = cr.rowcount
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc
        finally:
            # drain so that the producer never blocks on a finished consumer
            while not reader.done:
                item = q.get()
                if item is None or isinstance(item, BaseException):
                    reader.done = True

    worker = threading.Thread(target=consume, name=f"copy-{table}", daemon=True)
    worker.start()
    produce = wait = 0.0
    failure = None
    try:
        q.put(COPY_SIGNATURE)
        t = time.perf_counter()
        for chunk in chunks:
            t1 = time.perf_counter()
            produce += t1 - t
            if "error" in result:
                break
            q.put(chunk)
            t = time.perf_counter()
            wait += t - t1
    except BaseException as exc:
        failure = exc
        q.put(_ProducerFailed(f"producer failed: {exc!r}"))
        raise
    finally:
        if failure is None:
            if "error" not in result:
                q.put(COPY_TRAILER)
            q.put(None)
        worker.join()
    if "error" in result:
        raise result["error"]
    return result.get("rows"), reader.bytes, produce, wait
