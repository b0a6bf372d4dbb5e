"""A surrogate over the measured probes: predicts a recipe's metric before it is probed.

Features of a recipe (pool-relative, so they mean the same on any pool): for every candidate op, the
share of the pool that op's cut removes on its own (0 when the op is absent), and the share the whole
recipe keeps. A Gaussian process (scikit-learn; Matern kernel with one length scale per feature plus a
white-noise term, because probes carry seed noise of the same size as most effects) is refit on every
finished probe of the run before each use.

Used by the threshold search (`OptunaDriver`): every other trial is the surrogate's pick (highest upper
confidence bound among random candidates in the search box) instead of TPE's; and every search trial,
whoever picked it, gets a prediction logged before its probe, so the run can say how well the surrogate
ranks what the probes then measured (``prediction_quality``: Spearman rank correlation).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recipelab.agent.plan import OpChoice

if TYPE_CHECKING:
    from recipelab.agent.space import PoolSpace
    from recipelab.agent.state import SearchState
    from recipelab.memory import Memory

#: Fewest finished probes (distinct recipes) before the surrogate is fit at all.
MIN_POINTS = 5
#: Upper confidence bound weight for the surrogate's pick (mean + KAPPA * sd).
KAPPA = 1.0
#: Random candidates scored per pick.
CANDIDATES = 256


def features(space: PoolSpace, choices: Sequence[OpChoice]) -> np.ndarray:
    """Per candidate op, the share of the pool its cut removes alone; then the share the recipe keeps."""
    by = {c.op: c for c in choices}
    row = [float(space.removed([by[name]]).mean()) if name in by else 0.0 for name in space.entries]
    row.append(1.0 - float(space.removed(list(choices)).mean()) if choices else 1.0)
    return np.asarray(row, dtype=float)


@dataclass
class Prediction:
    mean: float
    sd: float


class Surrogate:
    """A Gaussian process from recipe features to the probe metric, fit on the run's finished probes."""

    def __init__(self, space: PoolSpace, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.gp: Any = None
        self.n = 0

    def fit(self, state: SearchState) -> bool:
        """Refit on every finished probe (each seed a point: the white-noise term learns the seed noise).
        False when too few distinct recipes are measured to fit."""
        done = [t for t in state.trials if t.done]
        if len({t.recipe_fp for t in done}) < MIN_POINTS:
            self.gp = None
            return False
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        X = np.stack([features(self.space, t.choices) for t in done])
        y = np.asarray([t.metric for t in done], dtype=float)
        kernel = ConstantKernel(1.0, (1e-3, 1e2)) * Matern(
            length_scale=np.full(X.shape[1], 0.3), length_scale_bounds=(1e-2, 1e2), nu=2.5
        ) + WhiteKernel(0.1, (1e-4, 1.0))
        self.gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=self.seed, n_restarts_optimizer=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at the bounds: the fit is still usable
            self.gp.fit(X, y)
        self.n = len(done)
        return True

    def predict(self, choices_list: Sequence[Sequence[OpChoice]]) -> list[Prediction]:
        if self.gp is None:
            raise RuntimeError("surrogate not fit")
        X = np.stack([features(self.space, ch) for ch in choices_list])
        mu, sd = self.gp.predict(X, return_std=True)
        return [Prediction(float(m), float(s)) for m, s in zip(mu, sd, strict=True)]


def spearman(pred: Sequence[float], measured: Sequence[float]) -> float:
    """Spearman rank correlation (nan under 3 pairs or when either side is constant)."""
    from scipy import stats as sstats

    if len(pred) < 3 or len(set(pred)) < 2 or len(set(measured)) < 2:
        return float("nan")
    return float(sstats.spearmanr(pred, measured).statistic)


def prediction_quality(memory: Memory, run_id: str) -> dict[str, Any]:
    """The run's surrogate predictions joined with what the probes then measured: the pairs, their
    Spearman correlation, and the same for the surrogate's own picks."""
    measured = {e["id"]: e.get("primary_value") for e in memory.experiments(run_id)}
    pairs = []
    for ev in memory.events(run_id, kinds="info"):
        p = (ev.get("payload") or {}).get("surrogate")
        if not p or p.get("experiment") is None:
            continue
        v = measured.get(p["experiment"])
        if v is None or not math.isfinite(float(v)):
            continue
        pairs.append({**p, "measured": float(v)})
    picks = [q for q in pairs if q.get("picked_by") == "surrogate"]
    return {
        "n": len(pairs),
        "spearman": spearman([q["predicted"] for q in pairs], [q["measured"] for q in pairs]),
        "n_picks": len(picks),
        "pairs": pairs,
    }
