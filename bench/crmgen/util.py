"""Small helpers: logging, the background encoder thread, working hours, phone numbers, COPY of a table by chunks."""

import threading
import time

import numpy as np

try:  # imported as bench.crmgen
    from .. import _db
    from .._db import int_text, objects
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    import _db
    from _db import int_text, objects
from .constants import COUNTRIES, DAY


class Background(threading.Thread):
    """Runs ``fn`` in a thread (numpy releases the GIL in its heavy loops);
    ``get()`` returns its result or re-raises its exception."""

    def __init__(self, fn):
        super().__init__(daemon=True, name="model")
        self.fn = fn
        self.result = self.exc = None
        self.done = False

    def run(self):
        if self.done:
            return
        try:
            self.result = self.fn()
        except BaseException as exc:
            self.exc = exc
        self.done = True

    def start(self):
        self.started = True
        super().start()

    def get(self):
        if getattr(self, "started", False):
            self.join()
        elif not self.done:
            self.run()
        if self.exc is not None:
            raise self.exc
        return self.result


def log(msg):
    print(msg, flush=True)


def working_hours(t, lo=None, hi=None, rng=None):
    """Move unix times onto Monday-Friday 08:00-18:00 (same or adjacent day),
    clipped to [lo, hi]."""
    day = np.floor(t / DAY)
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    day = day - (dow == 5) + (dow == 6)
    hours = 8 + 10 * rng.beta(2.0, 2.0, len(t))
    out = day * DAY + np.floor(hours * 3600)
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return out


# ---------------------------------------------------------------------------
# partners
# ---------------------------------------------------------------------------
class NS:
    """Plain attribute namespace for the generated arrays."""


def lower(words):
    return objects([w.lower() for w in words])


def phone_numbers(rng, country, mobile):
    """(display, E.164) object arrays of numbers valid for ``phonenumbers``
    (phone_validation's check): "+32 2 5123456" / "+3225123456"."""
    n = len(country)
    disp_pref, e164_pref = [], []
    pref_index = np.zeros(n, dtype=np.int64)
    ndig = np.zeros(n, dtype=np.int64)
    for ci, c in enumerate(COUNTRIES):
        cc, prefs = c[6], (c[8] if mobile else c[7])
        sel = np.flatnonzero(country == ci)
        choice = rng.integers(0, len(prefs), len(sel))
        for pi, (prefix, nd) in enumerate(prefs):
            pref_index[sel[choice == pi]] = len(disp_pref)
            ndig[sel[choice == pi]] = nd
            disp_pref.append(f"+{cc} {prefix} ")
            e164_pref.append(f"+{cc}{prefix}")
    # random digits starting with 2..8 (0, 1 and 9 start invalid ranges in places)
    lo, hi = 2 * 10 ** (ndig - 1), 9 * 10 ** (ndig - 1)
    rest = int_text(lo + (rng.random(n) * (hi - lo)).astype(np.int64))
    return objects(disp_pref)[pref_index] + rest, objects(e164_pref)[pref_index] + rest


def copy_table(cr, table, columns, chunks, what):
    t = time.perf_counter()
    rows, nbytes, prod, wait = _db.copy_binary(cr, table, columns, chunks)
    el = time.perf_counter() - t
    log(
        f"{table}: COPY {rows} rows {what}, {nbytes / 1e6:.0f} MB in {el:.1f}s "
        f"(encoding {prod:.1f}s, encoder waiting on the server {wait:.1f}s)"
    )
    return el
