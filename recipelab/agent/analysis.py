"""Analyze: candidates with confidence intervals, op effects against the baseline, the noise level.

Seed noise at probe scale is as large as a single op's effect (PROBE_NOTES), so every number here
carries an interval, effects are paired by seed where the seeds match, and the final choice uses a
lower confidence bound rather than the best single run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import stats as sstats

from recipelab.agent.state import SearchState, Trial

DEFAULT_NOISE_SD = 0.03
BASELINE = "baseline"


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
        """Own spread when there are 3+ seeds, else the run's pooled seed noise (one run says nothing
        about its own spread)."""
        m = self.metrics
        return float(m.std(ddof=1)) if len(m) >= 3 else pooled

    def interval(self, pooled: float, conf: float = 0.9) -> tuple[float, float]:
        n = max(self.n, 1)
        sd = self.sd(pooled)
        dof = max(n - 1, 2) if n >= 3 else 10  # pooled sd has the run's degrees of freedom
        h = float(sstats.t.ppf(0.5 + conf / 2, dof)) * sd / math.sqrt(n)
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


def candidates(state: SearchState) -> list[Candidate]:
    by: dict[str, list[Trial]] = defaultdict(list)
    for t in state.trials:
        by[t.recipe_fp].append(t)
    return [Candidate(fp, ts) for fp, ts in by.items() if any(t.done for t in ts)]


def noise_sd(state: SearchState) -> float:
    """Pooled within-recipe seed standard deviation over every recipe probed with 2+ seeds."""
    ss, dof = 0.0, 0
    for c in candidates(state):
        m = c.metrics
        if len(m) >= 2:
            ss += float(((m - m.mean()) ** 2).sum())
            dof += len(m) - 1
    if dof == 0:
        return DEFAULT_NOISE_SD
    # Shrink towards the default while evidence is thin, so 2 lucky seeds can't claim zero noise.
    prior_dof = 2
    return math.sqrt((ss + prior_dof * DEFAULT_NOISE_SD**2) / (dof + prior_dof))


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


def effect_vs_baseline(state: SearchState, cand: Candidate, conf: float = 0.9) -> Effect | None:
    """Metric difference to the no-filter baseline: paired by seed where both have the seed, else the
    difference of means with the pooled noise."""
    base = baseline(state)
    if base is None or cand.n == 0:
        return None
    pooled = noise_sd(state)
    bseed = {t.seed_index: t.metric for t in base.trials if t.done}
    pairs = [(t.metric, bseed[t.seed_index]) for t in cand.trials if t.done and t.seed_index in bseed]
    if pairs:
        d = np.array([a - b for a, b in pairs], dtype=float)
        n = len(d)
        # A paired difference of two noisy runs has about sqrt(2)*sd spread, less when seeds correlate;
        # with <3 pairs, use the conservative sqrt(2)*pooled.
        sd = float(d.std(ddof=1)) if n >= 3 else math.sqrt(2) * pooled
        dof = n - 1 if n >= 3 else 10
        h = float(sstats.t.ppf(0.5 + conf / 2, dof)) * sd / math.sqrt(n)
        m = float(d.mean())
        return Effect(cand.description, cand.recipe_fp, m, m - h, m + h, n, True)
    m = cand.mean - base.mean
    se = pooled * math.sqrt(1 / cand.n + 1 / base.n)
    h = float(sstats.t.ppf(0.5 + conf / 2, 10)) * se
    return Effect(cand.description, cand.recipe_fp, m, m - h, m + h, cand.n, False)


def op_effects(state: SearchState, prefix: str = "screen:") -> dict[str, Effect]:
    """Effect of each single-op screening recipe (purpose ``screen:<op>``) against the baseline."""
    out: dict[str, Effect] = {}
    for c in candidates(state):
        if c.purpose.startswith(prefix):
            e = effect_vs_baseline(state, c)
            if e is not None:
                out[c.purpose[len(prefix) :]] = e
    return out


def ranked(state: SearchState, conf: float = 0.9) -> list[tuple[Candidate, float]]:
    """Candidates by lower confidence bound, best first."""
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
