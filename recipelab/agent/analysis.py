"""Analyze: candidates with confidence intervals, op effects against the baseline, the noise level.

Seed noise at probe scale is as large as a single op's effect (PROBE_NOTES), so every number here
carries an interval, effects are paired by seed where the seeds match, and the final choice uses a
lower confidence bound rather than the best single run.

Every candidate's interval uses the run's pooled seed noise (``noise_sd``), never its own spread: three
seeds say little about their own spread (a 3-seed sd is off by a factor of two one time in five), and a
recipe whose few seeds happened to agree would otherwise win the lower-bound ranking over a better one.
The recipe's own seeds still enter the pooled estimate, with every other replicated recipe's.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats as sstats

from recipelab.agent.state import SearchState, Trial

DEFAULT_NOISE_SD = 0.03
#: Degrees of freedom of the noise prior that ``noise_sd`` shrinks towards while few seeds are replicated.
PRIOR_DOF = 2
#: t degrees of freedom assumed for a plain float noise level (one that does not carry its own).
DEFAULT_DOF = 10
BASELINE = "baseline"


class Noise(float):
    """The run's pooled seed standard deviation, carrying the degrees of freedom it was estimated with.

    A float, so every caller that formats, stores or compares it keeps working; ``Candidate.interval``
    reads ``dof`` for its t quantile, so a run with little replication gets honestly wider intervals."""

    dof: int

    def __new__(cls, sd: float, dof: int = DEFAULT_DOF) -> Noise:
        obj = super().__new__(cls, sd)
        obj.dof = int(dof)
        return obj

    def __reduce__(self) -> tuple:
        return (Noise, (float(self), self.dof))


def _dof(noise: float) -> int:
    return max(int(getattr(noise, "dof", DEFAULT_DOF)), 1)


@dataclass
class Candidate:
    recipe_fp: str
    trials: list[Trial]

    @property
    def metrics(self) -> np.ndarray:
        return np.array([t.metric for t in self.trials if t.done], dtype=float)

    @property
    def n(self) -> int:
        return len(self.metrics)

    @property
    def mean(self) -> float:
        m = self.metrics
        return float(m.mean()) if len(m) else float("nan")

    def sd(self, pooled: float) -> float:
        """The seed sd used for this candidate's interval: the run's pooled seed noise, whatever its
        number of seeds (see the module docstring)."""
        return float(pooled)

    def own_sd(self) -> float:
        """This candidate's own seed spread (nan under 2 seeds); for display, never for ranking."""
        m = self.metrics
        return float(m.std(ddof=1)) if len(m) >= 2 else float("nan")

    def half_width(self, pooled: float, conf: float = 0.9) -> float:
        """Half-width of the ``conf`` interval of the mean: t(pooled dof) * pooled sd / sqrt(seeds)."""
        return half_width(pooled, max(self.n, 1), conf)

    def interval(self, pooled: float, conf: float = 0.9) -> tuple[float, float]:
        h = self.half_width(pooled, conf)
        return self.mean - h, self.mean + h

    def lcb(self, pooled: float, conf: float = 0.9) -> float:
        return self.interval(pooled, conf)[0]

    @property
    def purpose(self) -> str:
        return self.trials[0].purpose if self.trials else ""

    @property
    def description(self) -> str:
        t = self.trials[0]
        return ", ".join(t.op_names) if t.choices else "(no filter)"


def half_width(pooled: float, n: int, conf: float = 0.9) -> float:
    """Half-width of the ``conf`` interval of a mean of ``n`` seeds under the pooled noise ``pooled``
    (a ``Noise`` brings its degrees of freedom; a plain float is taken at ``DEFAULT_DOF``)."""
    return float(sstats.t.ppf(0.5 + conf / 2, _dof(pooled))) * float(pooled) / math.sqrt(max(n, 1))


def overlaps(a: Candidate, b: Candidate, pooled: float, conf: float = 0.9) -> bool:
    """Whether the two candidates' intervals overlap (neither is clearly better than the other)."""
    alo, ahi = a.interval(pooled, conf)
    blo, bhi = b.interval(pooled, conf)
    return ahi >= blo and bhi >= alo


def candidates(state: SearchState) -> list[Candidate]:
    by: dict[str, list[Trial]] = defaultdict(list)
    for t in state.trials:
        by[t.recipe_fp].append(t)
    return [Candidate(fp, ts) for fp, ts in by.items() if any(t.done for t in ts)]


def noise_sd(state: SearchState) -> Noise:
    """Pooled within-recipe seed standard deviation over every recipe probed with 2+ seeds, as a
    ``Noise`` that carries its degrees of freedom (replicated seeds plus the prior's)."""
    ss, dof = 0.0, 0
    for c in candidates(state):
        m = c.metrics
        if len(m) >= 2:
            ss += float(((m - m.mean()) ** 2).sum())
            dof += len(m) - 1
    if dof == 0:
        return Noise(DEFAULT_NOISE_SD, PRIOR_DOF)
    # Shrink towards the default while evidence is thin, so 2 lucky seeds can't claim zero noise.
    return Noise(math.sqrt((ss + PRIOR_DOF * DEFAULT_NOISE_SD**2) / (dof + PRIOR_DOF)), dof + PRIOR_DOF)


def baseline(state: SearchState) -> Candidate | None:
    for c in candidates(state):
        if c.purpose == BASELINE:
            return c
    return None


@dataclass
class Effect:
    label: str
    recipe_fp: str
    mean: float
    lo: float
    hi: float
    n: int
    paired: bool

    @property
    def significant(self) -> bool:
        return self.lo > 0


def effect_vs_baseline(
    state: SearchState, cand: Candidate, conf: float = 0.9, pooled: float | None = None
) -> Effect | None:
    """Metric difference to the no-filter baseline: paired by seed where both have the seed, else the
    difference of means with the pooled noise (``pooled``: the run's ``noise_sd``, computed if not given)."""
    base = baseline(state)
    if base is None or cand.n == 0:
        return None
    if pooled is None:
        pooled = noise_sd(state)
    bseed = {t.seed_index: t.metric for t in base.trials if t.done}
    pairs = [(t.metric, bseed[t.seed_index]) for t in cand.trials if t.done and t.seed_index in bseed]
    if pairs:
        d = np.array([a - b for a, b in pairs], dtype=float)
        n = len(d)
        # A paired difference of two noisy runs has about sqrt(2)*sd spread, less when seeds correlate;
        # with <3 pairs, use the conservative sqrt(2)*pooled.
        sd = float(d.std(ddof=1)) if n >= 3 else math.sqrt(2) * pooled
        dof = n - 1 if n >= 3 else _dof(pooled)
        h = float(sstats.t.ppf(0.5 + conf / 2, dof)) * sd / math.sqrt(n)
        m = float(d.mean())
        return Effect(cand.description, cand.recipe_fp, m, m - h, m + h, n, True)
    m = cand.mean - base.mean
    se = pooled * math.sqrt(1 / cand.n + 1 / base.n)
    h = float(sstats.t.ppf(0.5 + conf / 2, _dof(pooled))) * se
    return Effect(cand.description, cand.recipe_fp, m, m - h, m + h, cand.n, False)


def op_effects(state: SearchState, prefix: str = "screen:") -> dict[str, Effect]:
    """Effect of each screening recipe (purpose ``screen:<label>``: one op's tail, or a group of tails)
    against the baseline, by label."""
    out: dict[str, Effect] = {}
    pooled = noise_sd(state)
    for c in candidates(state):
        if c.purpose.startswith(prefix):
            e = effect_vs_baseline(state, c, pooled=pooled)
            if e is not None:
                out[c.purpose[len(prefix) :]] = e
    return out


def ranked(state: SearchState, conf: float = 0.9) -> list[tuple[Candidate, float]]:
    """Candidates by lower confidence bound (pooled seed noise for all), best first."""
    pooled = noise_sd(state)
    cs = [(c, c.lcb(pooled, conf)) for c in candidates(state)]
    return sorted(cs, key=lambda x: (-x[1], -x[0].mean))


def best_so_far(state: SearchState) -> tuple[Candidate, float, float] | None:
    r = ranked(state)
    if not r:
        return None
    c, _ = r[0]
    lo, hi = c.interval(noise_sd(state))
    return c, lo, hi
