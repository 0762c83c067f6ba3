"""Who gets a retention offer and who is held out: pure selection logic.

The control group is what makes a campaign's result honest: a share of the
matching customers receives nothing and is measured exactly like the
treated ones, so the difference of retention rates is the campaign's
effect rather than the customers' own rhythm. The split is a seeded
shuffle, so the same campaign (same seed, same customers) always splits
the same way, whatever order the database returns them in:

    >>> treated, control = split_control([5, 3, 9, 1, 7, 2, 8, 4, 6, 10], 0.2, seed=42)
    >>> sorted(treated + control) == list(range(1, 11)), len(control)
    (True, 2)
    >>> split_control([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], 0.2, seed=42) == (treated, control)
    True

Continuous enrolment draws each newcomer on its own (``assign_control``):
the share is then respected on average rather than exactly, but a
customer's group never depends on who else joined the same day.
"""

import hashlib
import secrets

import numpy as np

# no 0/O, 1/I/L: codes are read out on the phone and typed at the till
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

# Bounds of what a campaign may hold. They keep every date the campaign
# computes (enrolment + delays, windows, validity) far inside what a date
# can represent, and they refuse typing slips (a 1,000,000 % coupon) with
# a clear message instead of an error deep in the launch or the cron.
MAX_DAYS = 3650  # step delays, outcome window, offer validity: ten years
DATE_WINDOW_YEARS = 10  # dates a user types: within ten years of today
MAX_AMOUNT = 1e12  # budget, cost per member, fixed discount, points
MAX_GROUP_SIZE = 1_000_000
MAX_SEED = 2**31 - 1  # the seed is stored as a PostgreSQL integer


def split_control(ids, share, seed):
    """Split ``ids`` into (treated, control) lists, reproducibly.

    Exactly ``round(len(ids) * share)`` ids go to control. The ids are
    sorted before the seeded permutation, so the result depends only on the
    set of ids, the share and the seed.
    """
    if not 0.0 <= share < 1.0:
        raise ValueError("the control share must be in [0, 1)")
    ordered = np.array(sorted(set(ids)), dtype=np.int64)
    n_control = int(round(len(ordered) * share))
    rng = np.random.default_rng(seed)
    permuted = rng.permutation(ordered)
    control = sorted(int(i) for i in permuted[:n_control])
    treated = sorted(int(i) for i in permuted[n_control:])
    return treated, control


def assign_control(ids, share, seed):
    """Decide for each id alone whether it is held out: {id: in_control}.

    A hash of (seed, id) mapped to [0, 1) is compared with the share, so a
    customer enrolled later by the continuous enrolment gets the same group
    whenever it is drawn.

    >>> groups = assign_control(range(1, 10001), 0.1, seed=7)
    >>> abs(sum(groups.values()) / 10000 - 0.1) < 0.01
    True
    >>> assign_control([42], 0.1, seed=7) == {42: groups[42]}
    True
    """
    result = {}
    for i in ids:
        digest = hashlib.sha256(f"{seed}:{i}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        result[i] = draw < share
    return result


def generate_codes(count, prefix="", length=8, taken=()):
    """``count`` distinct random offer codes, none of them in ``taken``.

    Codes are not reproducible on purpose: they are bearer tokens, so they
    come from ``secrets``, not from the campaign's seed.

    >>> codes = generate_codes(3, prefix="WB-")
    >>> len(set(codes)), all(c.startswith("WB-") and len(c) == 11 for c in codes)
    (3, True)
    """
    taken = set(taken)
    codes = []
    while len(codes) < count:
        code = prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
        if code not in taken:
            taken.add(code)
            codes.append(code)
    return codes
