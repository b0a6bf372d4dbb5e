"""Warm start: a new search begins from what earlier runs on the same pool (or a look-alike) found.

What an earlier run found is a *hint*, never a result: its best recipes are re-measured first in the new
run (they count against its budget, like any probe), and its screen effects only order the new run's
screens. Why re-measure even on the same pool: probe settings, seeds or the candidate ops may differ;
and on another pool the same quantile cut removes other samples. (On the very same pool and probe
settings the probe cache makes a re-measure free, which is a measured result, not a copied one.)

Which runs count as "the same pool": the same pool fingerprint; else a pool whose op stats have the same
distributions (``stats_signature``: each stat's quantiles; ``signature_distance``: the largest KS
distance over the stats, below ``look_alike_limit`` for a look-alike). The resolved source is stored in the run's
config (``warm_start_sources``), so a resumed run warm-starts from the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recipelab.agent.analysis import candidates, effect_vs_baseline, noise_sd, ranked
from recipelab.agent.plan import OpChoice
from recipelab.agent.state import is_search_run, load_state

if TYPE_CHECKING:
    from recipelab.agent.space import PoolSpace
    from recipelab.memory import Memory

#: Purpose prefix of a warm-start re-measure (``warm:<k>``).
WARM = "warm:"
#: Most recipes of a source run re-measured first: its final choice and the runner-up.
MAX_WARM_RECIPES = 2
#: Quantile levels of a stats signature (tails included: noise sits in the tails).
LEVELS = np.linspace(0.01, 0.99, 99)
#: Kolmogorov-Smirnov coefficient of the look-alike test: two pools look alike when every stat's KS
#: distance stays below ``KS_COEF * sqrt((n+m)/(n*m))``, never below ``KS_FLOOR``. 2.5 is far out in the
#: KS tail (p ~ 1e-5) because a score of stats is compared at once, read off 99 quantiles, and image stats
#: of two draws of the same generator differ more than independent samples would (measured: 0.12 at
#: n=600 where 1.95 would allow 0.113); a pool with one stat's top 40% cut away is at 0.4.
KS_COEF = 2.5
KS_FLOOR = 0.05


class WarmStartError(ValueError):
    """A ``--warm-start RUN_ID`` that names no usable run."""


@dataclass
class WarmRecipe:
    choices: list[OpChoice]
    source_run: str
    source_mean: float
    source_seeds: int


@dataclass
class WarmStart:
    """Findings of one earlier run, as hints for this one."""

    source_run: str
    same_pool: bool
    distance: float
    recipes: list[WarmRecipe] = field(default_factory=list)
    effects: dict[str, float] = field(default_factory=dict)  # screen label -> mean effect vs its baseline

    def describe(self) -> str:
        how = "the same pool" if self.same_pool else f"a pool with the same op stats (distance {self.distance:.3f})"
        pos = sorted((k for k, v in self.effects.items() if v > 0), key=lambda k: -self.effects[k])
        neg = sorted(k for k, v in self.effects.items() if v <= 0)
        return (
            f"warm start from run {self.source_run} ({how}): {len(self.recipes)} of its best recipe(s) "
            f"re-measured first"
            + (f"; its screens that helped go first: {', '.join(pos[:5])}" if pos else "")
            + (f"; those that hurt go last: {', '.join(neg[:5])}" if neg else "")
        )


# ---------------------------------------------------------------------- pool signatures
def stats_signature(space: PoolSpace) -> dict[str, Any]:
    """The pool's size and, by ``op.stat``, 99 quantiles (1%..99%) of every filter stat (per-sample
    mean of ragged stats): enough to compare distributions without keeping the stats."""
    out: dict[str, Any] = {"n": int(space.n), "quantiles": {}}
    for name in space.filter_names:
        for key, st in space.entries[name].stats.items():
            v = st.per_sample("mean")
            v = v[np.isfinite(v)]
            if len(v):
                out["quantiles"][f"{name}.{key}"] = [round(float(x), 6) for x in np.quantile(v, LEVELS)]
    return out


def _ks(qa: np.ndarray, qb: np.ndarray) -> float:
    """KS distance between two distributions given by their quantiles at ``LEVELS``: the largest gap
    between one's CDF, read off the other's quantile function, and the level."""
    gaps = []
    for x, y in ((qa, qb), (qb, qa)):
        lo = np.searchsorted(y, x, side="left") / (len(y) + 1)
        hi = np.searchsorted(y, x, side="right") / (len(y) + 1)
        p = LEVELS
        # a tie (many equal quantiles) is a step of the CDF: the level may sit anywhere on it
        gaps.append(np.where(p < lo, lo - p, np.where(p > hi, p - hi, 0.0)))
    return round(float(max(g.max() for g in gaps)), 4)  # the levels are 0.01 apart: no more digits


def signature_distance(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """The largest KS distance over the stats both pools have; inf when they share none."""
    qa, qb = a.get("quantiles") or {}, b.get("quantiles") or {}
    ds = [
        _ks(np.asarray(qa[k], float), np.asarray(qb[k], float))
        for k in sorted(set(qa) & set(qb))
        if len(qa[k]) == len(qb[k]) == len(LEVELS)
    ]
    return max(ds) if ds else float("inf")


def look_alike_limit(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """The distance below which two pools of these sizes look alike (see ``KS_COEF``)."""
    n, m = max(int(a.get("n") or 1), 1), max(int(b.get("n") or 1), 1)
    return max(KS_FLOOR, KS_COEF * float(np.sqrt((n + m) / (n * m))))


# ---------------------------------------------------------------------- sources
def _prepared(memory: Memory, run_id: str) -> dict[str, Any]:
    """The payload of a run's "prepared" event (pool fingerprint, ops, stats signature)."""
    for ev in memory.events(run_id, kinds="info"):
        p = ev.get("payload") or {}
        if "pool_fingerprint" in p:
            return p
    return {}


def _usable(memory: Memory, run: dict[str, Any], task: str) -> bool:
    if not is_search_run(run) or (run.get("config") or {}).get("task", "clip") != task:
        return False
    return any(t.done for t in load_state(memory, run["id"]).trials)


def find_source(
    memory: Memory,
    run_id: str,
    setting: str,
    task: str,
    pool_fp: str,
    signature: Mapping[str, Any],
) -> tuple[str, bool, float] | None:
    """The run to warm-start from: (run id, same pool, distance), or None. ``setting`` is ``off``,
    ``auto`` (the newest finished search on the same pool, else on the closest look-alike pool) or a run
    id (raises `WarmStartError` when that run has no finished probe)."""
    if setting == "off":
        return None
    if setting != "auto":
        run = memory.get_run(setting)
        if run is None or run["id"] == run_id or not any(t.done for t in load_state(memory, setting).trials):
            raise WarmStartError(f"--warm-start {setting}: no earlier run with finished probes by that id")
        p = _prepared(memory, setting)
        same = p.get("pool_fingerprint") == pool_fp
        dist = 0.0 if same else signature_distance(signature, p.get("stats_signature") or {})
        return setting, same, dist
    best: tuple[float, str, bool] | None = None
    for run in memory.list_runs():
        if run["id"] == run_id or run.get("status") not in ("done", "stopped") or not _usable(memory, run, task):
            continue
        p = _prepared(memory, run["id"])
        if not p:
            continue
        same = p.get("pool_fingerprint") == pool_fp
        dist = 0.0 if same else signature_distance(signature, p.get("stats_signature") or {})
        if not same and dist >= look_alike_limit(signature, p.get("stats_signature") or {}):
            continue
        # closest first; among equals the newest (list_runs is newest first: the first seen stays)
        if best is None or dist < best[0]:
            best = (dist, run["id"], same)
    return (best[1], best[2], best[0]) if best else None


def findings(memory: Memory, source_run: str, same_pool: bool, distance: float) -> WarmStart:
    """The source run's best recipes (by lower confidence bound, its final choice first) and its screen
    effects, read from the memory."""
    state = load_state(memory, source_run)
    pooled = noise_sd(state)
    ws = WarmStart(source_run, same_pool, distance)
    final = ((memory.get_run(source_run) or {}).get("summary") or {}).get("best") or {}
    seen: set[str] = set()
    order = [c for c, _ in ranked(state)]
    if final.get("recipe_fp"):
        order.sort(key=lambda c: c.recipe_fp != final["recipe_fp"])
    for c in order:
        if c.purpose == "baseline" or not c.trials[0].choices or c.recipe_fp in seen:
            continue
        seen.add(c.recipe_fp)
        ws.recipes.append(WarmRecipe(list(c.trials[0].choices), source_run, c.mean, c.n))
        if len(ws.recipes) >= MAX_WARM_RECIPES:
            break
    for c in candidates(state):
        if c.purpose.startswith("screen:"):
            e = effect_vs_baseline(state, c, pooled=pooled)
            if e is not None:
                ws.effects[c.purpose[len("screen:") :]] = e.mean
    return ws
