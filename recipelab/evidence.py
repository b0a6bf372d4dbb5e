"""Paired comparisons of two strategies over search seeds, and how much of their noise is test scoring.

A search-quality claim ("strategy A beats B") pairs A and B on the same search seeds and scores each
final recipe on the same test seeds. The spread of the per-seed difference has two sources: the
searches themselves (different recipes) and the test scoring (a probe's own seed noise, which more
test seeds shrink). Splitting the two says whether a comparison that does not separate needs more
search seeds or more test seeds, and how many search seeds the observed difference would need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats as sstats

#: Largest number of search seeds `seeds_needed` reports; beyond it the answer is "more than this".
MAX_SEEDS = 1000


def t_half_width(sd: float, n: int, conf: float = 0.9) -> float:
    """Half width of the two-sided ``conf`` t interval of a mean of ``n`` values with sample sd ``sd``."""
    if n < 2 or not math.isfinite(sd):
        return float("nan")
    return float(sstats.t.ppf(0.5 + conf / 2, n - 1)) * sd / math.sqrt(n)


@dataclass(frozen=True)
class PairedComparison:
    """A - B over search seeds: mean, ``conf`` t interval, and the test-scoring part of the spread."""

    n: int  #: search seeds paired
    mean: float  #: mean over search seeds of the per-seed mean difference
    lo: float
    hi: float
    sd: float  #: between-seed sd of the per-seed mean difference (nan with one seed)
    scoring_sd: float | None = None  #: its expected sd from test scoring alone (None with one test seed)
    conf: float = 0.9

    @property
    def verdict(self) -> str:
        if self.lo > 0:
            return "A beats B"
        if self.hi < 0:
            return "B beats A"
        return "no measurable difference"

    @property
    def scoring_share(self) -> float | None:
        """Share of the between-seed variance that test scoring alone explains (can exceed 1 by chance)."""
        if self.scoring_sd is None or not (self.sd > 0):
            return None
        return (self.scoring_sd / self.sd) ** 2

    def seeds_needed(self) -> int | None:
        """Search seeds at which the observed mean and sd would give an interval that excludes 0.

        None when the mean is 0 or the sd unknown; ``MAX_SEEDS + 1`` when it needs more than ``MAX_SEEDS``.
        """
        if not (math.isfinite(self.sd) and self.mean != 0):
            return None
        if self.sd == 0:
            return 2
        for n in range(2, MAX_SEEDS + 1):
            if t_half_width(self.sd, n, self.conf) < abs(self.mean):
                return n
        return MAX_SEEDS + 1

    def scaled(self, factor: float) -> PairedComparison:
        """The same comparison in other units (e.g. divided by the oracle gap: gap-closed units)."""
        s = abs(factor)
        lo, hi = sorted((self.lo * factor, self.hi * factor))
        return PairedComparison(
            self.n, self.mean * factor, lo, hi, self.sd * s,
            None if self.scoring_sd is None else self.scoring_sd * s, self.conf,
        )  # fmt: skip


def compare(
    a: Mapping[int, Mapping[int, float]],
    b: Mapping[int, Mapping[int, float]],
    conf: float = 0.9,
) -> PairedComparison | None:
    """Pair ``a`` and ``b`` (search seed -> test seed -> test metric) on the seeds both have.

    Per search seed the difference is averaged over the test seeds both scored; a seed with none in
    common is left out. The scoring sd is the within-seed sd of the per-test-seed differences divided
    by the square root of their count, root-mean-squared over seeds: what the per-seed mean difference
    would still vary by if every search had found the same recipe.
    """
    means: list[float] = []
    scoring_vars: list[float] = []
    for seed in sorted(set(a) & set(b)):
        common = sorted(set(a[seed]) & set(b[seed]))
        if not common:
            continue
        d = np.array([a[seed][k] - b[seed][k] for k in common], dtype=float)
        means.append(float(d.mean()))
        if len(d) > 1:
            scoring_vars.append(float(d.var(ddof=1)) / len(d))
    if not means:
        return None
    m = np.asarray(means)
    n = len(m)
    sd = float(m.std(ddof=1)) if n > 1 else float("nan")
    half = t_half_width(sd, n, conf)
    scoring = math.sqrt(float(np.mean(scoring_vars))) if len(scoring_vars) == n else None
    return PairedComparison(n, float(m.mean()), float(m.mean()) - half, float(m.mean()) + half, sd, scoring, conf)
