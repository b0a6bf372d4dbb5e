"""64-bit integer hashing shared by the operator kernels (text n-grams and words, dedup signatures).

One copy of each primitive, so that text stats and dedup groups hash the same way everywhere:

- :func:`mix64`: the splitmix64 finaliser, spreading integer ids over 64 bits;
- :func:`fold_rows`: one hash per row of an integer matrix (LSH bands, signature blocks);
- :data:`HASH_MULT` / :func:`span_hashes`: a polynomial hash of mixed symbols (mod 2**64), over
  windows or over arbitrary spans of one symbol array through prefix sums.

All arithmetic is uint64 and wraps modulo 2**64 on purpose. Changing any constant here changes text
stats and dedup groups, and so invalidates every cached stat: don't.
"""

from __future__ import annotations

import numpy as np

U64 = np.uint64

#: Multiplier of the polynomial hash; odd, so invertible modulo 2**64.
HASH_MULT = 0x100000001B3
#: Its inverse modulo 2**64 (``HASH_MULT * HASH_MULT_INV % 2**64 == 1``).
HASH_MULT_INV = pow(HASH_MULT, -1, 2**64)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads symbol ids over 64 bits before polynomial hashing."""
    z = x.astype(np.uint64) + U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> U64(27))) * U64(0x94D049BB133111EB)
    return z ^ (z >> U64(31))


def fold_rows(rows: np.ndarray) -> np.ndarray:
    """One 64-bit hash per row of an integer matrix (equal rows, equal hashes)."""
    h = np.zeros(len(rows), dtype=np.uint64)
    for j in range(rows.shape[1]):
        h = mix64(h ^ rows[:, j].astype(np.uint64))
    return h


def span_hashes(cps: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """sum_j mix(c_j) * M**(j - begin) over each span, mod 2**64, via prefix sums (M is invertible)."""
    n = len(cps)
    if n == 0 or len(begin) == 0:
        return np.zeros(len(begin), dtype=np.uint64)
    pw = np.full(n, HASH_MULT, dtype=np.uint64)
    pw[0] = 1
    pw = np.cumprod(pw)
    ipw = np.full(n, HASH_MULT_INV, dtype=np.uint64)
    ipw[0] = 1
    ipw = np.cumprod(ipw)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(mix64(cps) * pw, out=prefix[1:])
    return (prefix[end] - prefix[begin]) * ipw[begin]


__all__ = ["HASH_MULT", "HASH_MULT_INV", "U64", "fold_rows", "mix64", "span_hashes"]
