"""The ``dj-sandbox`` baseline: the Data-Juicer Sandbox's single-op then multi-op protocol.

What the real sandbox does (github.com/datajuicer/data-juicer-sandbox):

- ``configs/internvl_coco_caption/sandbox_internvl_coco_caption.yaml`` chains the protocol: a baseline
  pool drawn at random with a third of the data; per stat, three pools (``data_pool_construction`` with
  ``split_ratios: ['1/3', '2/3']``), each trained and evaluated; every pool ranked by its score
  (``data_pool_ranking``, ``top_n: 3``); all combinations of the top pools (``data_pool_combination``),
  downsampled to the smallest (``data_pool_downsampling``), trained and evaluated.
- ``data_juicer_sandbox/data_pool_manipulators.py``: ``DataPoolConstruction`` sorts the analysed
  samples by one stat (a per-image list by its mean) and cuts at ``int(n * r + 0.5)``: three pools of
  equal size by *rank*, whatever the ties. ``DataPoolCombination`` turns N ranked pools into the
  2^N - 1 intersections of every non-empty subset (``top_0``, ``top_0_1``, ..., ``top_0_1_2``), empty
  ones skipped.

How this planner follows it, inside the shared loop, budget and end game:

1. the no-filter baseline on two seeds: the probe trains on a seeded draw of its train size (a third
   of the pool by default), which is the sandbox's random pool of the same size as each pool;
2. per (filter op, stat) in a seeded random order: the low / mid / high thirds by rank, ties broken by
   a seeded shuffle (``RankBand``). A third is given as plain thresholds where they keep exactly it
   (no ties at the cuts) and as ``OpChoice.band`` otherwise. Only as many stats as the budget covers
   (leaving the top-3 combinations and the replication reserve) are reached; ``coverage`` says how
   many, and what budget the full protocol needs;
3. stats ranked by their best pool's gain over the baseline (paired seed); all combinations of the best
   pools of the top k, k the largest whose 2^k - 1 - k new probes fit the budget left;
4. the shared replication end game.

Where this differs from the sandbox, and why: it ranks stats by their best pool rather than pooling
all pools (two thirds of one stat intersect to nothing); and a combined pool smaller than the probe's
train size runs undersized (flagged by the probe) instead of every pool being downsampled to the
smallest, because the probe's train size is one setting per run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from recipelab.agent.analysis import candidates, effect_vs_baseline
from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, RankBand
from recipelab.agent.planners.base import (
    BASELINE,
    BASELINE_SEEDS,
    PlannerContext,
    baseline_plan,
    budget_spent,
    replication_reserve,
)
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState
from recipelab.operators.base import Stat
from recipelab.operators.registry import get_op_class
from recipelab.recipes import RecipeError

if TYPE_CHECKING:
    from recipelab.config import SearchConfig

POOL = "pool:"
COMBO = "combo:"
LABELS = ("low", "mid", "high")
PARTS = len(LABELS)
#: Pools combined when the budget is just enough for the full protocol (the sandbox's ``top_n: 3``).
TOP_N = 3
#: Stream of the seeded generator that orders the stats (the tie-break shuffle uses the plain seed).
_ORDER_STREAM = 0xD5


@dataclass(frozen=True)
class StatUnit:
    """One stat of one filter op: the sandbox builds one set of pools per stat key."""

    op: str
    stat_key: str
    min_param: str | None
    max_param: str | None

    @property
    def label(self) -> str:
        return f"{self.op}:{self.stat_key}"

    @property
    def rank_param(self) -> str:
        """The threshold param that names this stat in a ``RankBand``."""
        p = self.min_param or self.max_param
        assert p is not None
        return p


@dataclass
class Pool:
    """One third of the pool by rank of a stat, and the op choice that keeps it."""

    unit: StatUnit
    part: int
    mask: np.ndarray
    choice: OpChoice
    #: False only while the space cannot honour ``OpChoice.band`` and thresholds cannot cut this third
    #: (ties at a cut): the probe then measures a threshold approximation, and the rationale says so.
    exact: bool

    @property
    def purpose(self) -> str:
        return f"{POOL}{self.unit.label}:{LABELS[self.part]}"

    @property
    def size(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True)
class Ranked:
    unit: StatUnit
    pool: Pool
    gain: float


@dataclass(frozen=True)
class Coverage:
    """How much of the protocol a budget reaches; the full protocol is every stat's three pools plus the
    combinations of the top ``TOP_N``."""

    ops_total: int
    ops_reached: int
    stats_total: int
    stats_reached: int
    budget: int
    full_budget: int
    approximate_pools: int = 0

    @property
    def complete(self) -> bool:
        return self.stats_reached == self.stats_total

    def describe(self) -> str:
        s = (
            f"reached {self.ops_reached} of {self.ops_total} ops ({self.stats_reached} of {self.stats_total} "
            f"stats); the full protocol needs a budget of {self.full_budget} probes, this run has {self.budget}"
        )
        if self.approximate_pools:
            s += (
                f"; {self.approximate_pools} pool(s) approximated by thresholds (ties at the cuts, and the "
                "space does not honour rank bands)"
            )
        return s


def combo_cost(k: int) -> int:
    """New probes of all combinations of k pools (the k single pools are measured already)."""
    return 2**k - 1 - k if k >= 2 else 0


def protocol_cost(n_stats: int) -> int:
    """Probes of the protocol over n stats, before the replication reserve."""
    return BASELINE_SEEDS + PARTS * n_stats + combo_cost(min(n_stats, TOP_N))


def budget_for(cost: int) -> int:
    """The smallest budget that leaves ``cost`` probes after the replication reserve."""
    b = cost
    while b - replication_reserve(b) < cost:
        b += 1
    return b


def stats_within(budget: int, n_stats: int) -> int:
    """How many stats' pools a budget covers, leaving room for the top combinations and the reserve."""
    avail = budget - replication_reserve(budget)
    return max((u for u in range(n_stats + 1) if protocol_cost(u) <= avail), default=0)


def top_k(room: int, n_ranked: int) -> int:
    """k for the combination stage: the most top pools whose combinations fit ``room`` probes (0 if < 2)."""
    k = 0
    while k < n_ranked and combo_cost(k + 1) <= room:
        k += 1
    return k if k >= 2 else 0


def _bound(op: str, param: str, side: str, x: float) -> ParamValue | None:
    """A bound at value ``x``, rounded outward for an integer param (None where ``x`` is no number)."""
    if not math.isfinite(x):
        return None
    if get_op_class(op).Params.model_fields[param].annotation is int:
        return ParamValue(name=param, value=math.floor(x) if side == "min" else math.ceil(x))
    return ParamValue(name=param, value=x)


class DJSandboxPlanner:
    """Data-Juicer sandbox: each stat's three equal-size pools by rank vs a random pool of the same size,
    stats ranked by their best pool, then all combinations of the top pools (see the module doc)."""

    name = "dj-sandbox"

    def __init__(self, seed: int = 0, train_size: int = 0) -> None:
        self.seed = seed
        self.train_size = train_size
        self._pools: dict[tuple[int, str, str], list[Pool]] = {}
        self._honours: dict[tuple[int, str], bool] = {}

    @classmethod
    def from_config(cls, cfg: SearchConfig, ctx: PlannerContext) -> DJSandboxPlanner:
        return cls(seed=cfg.seed, train_size=ctx.train_size)

    # ------------------------------------------------------------------ the stats and their pools
    def all_units(self, space: PoolSpace) -> list[StatUnit]:
        """Every (filter op, stat) with values, in a seeded random order. The order is drawn over all of
        them, bans or not, so that banning an op mid-run does not reshuffle the others; it is random
        rather than alphabetical so that a short budget does not always reach the same ops."""
        units = []
        for name in space.filter_names:
            e = space.entries[name]
            sides: dict[str, dict[str, str]] = {}
            for th in e.op.thresholds:  # type: ignore[attr-defined]
                sides.setdefault(th.stat_key, {})[th.side] = th.param
            for key, s in sides.items():
                if len(e.stats[key].finite_values()):
                    units.append(StatUnit(name, key, s.get("min"), s.get("max")))
        units.sort(key=lambda u: u.label)
        perm = np.random.default_rng([self.seed % 2**32, _ORDER_STREAM]).permutation(len(units))
        return [units[i] for i in perm]

    def units(self, space: PoolSpace, state: SearchState) -> list[StatUnit]:
        """The stats this run may use (banned ops left out), in the planner's order."""
        return [u for u in self.all_units(space) if u.op not in state.steering.banned]

    def band(self, unit: StatUnit, part: int) -> RankBand:
        return RankBand(param=unit.rank_param, part=part, parts=PARTS, seed=self.seed)

    def stat(self, space: PoolSpace, unit: StatUnit) -> Stat:
        return space.entries[unit.op].stats[unit.stat_key]

    def pools(self, space: PoolSpace, unit: StatUnit) -> list[Pool]:
        """The unit's low / mid / high thirds by rank, each with the choice that keeps exactly it."""
        key = (id(space), space.ds.fingerprint, unit.label)
        if key not in self._pools:
            st = self.stat(space, unit)
            out = []
            for part in range(PARTS):
                band = self.band(unit, part)
                mask = band.mask(st)
                thr = self._threshold_choice(unit, band, st)
                if thr is not None and np.array_equal(self._kept(space, thr), mask):
                    out.append(Pool(unit, part, mask, thr, exact=True))
                elif self.honours_bands(space, unit):
                    out.append(Pool(unit, part, mask, self._band_choice(unit, band, st), exact=True))
                else:
                    out.append(Pool(unit, part, mask, thr or OpChoice(op=unit.op), exact=False))
            self._pools[key] = out
        return self._pools[key]

    def _threshold_choice(self, unit: StatUnit, band: RankBand, st: Stat) -> OpChoice | None:
        """Bounds at the values of the third's first and last ranks: exactly the third when no value
        at a cut is tied across it (checked by the caller against the rank mask). The open end of the
        lowest / highest third is the stat's own extreme, given as a value: ``PoolSpace.to_recipe``'s
        default for an unnamed bound is rounded to 6 digits and can cut the extreme sample off."""
        order = band.order(st)
        lo, hi = band.bounds(len(order))
        if hi <= lo:
            return None
        v = np.nan_to_num(st.per_sample("mean"), nan=0.0)
        params = []
        for side, param, rank in (("min", unit.min_param, lo), ("max", unit.max_param, hi - 1)):
            open_end = (side == "min" and band.part == 0) or (side == "max" and band.part == band.parts - 1)
            if param is None:
                if open_end:
                    continue
                return None
            p = _bound(unit.op, param, side, self._extreme(st, side) if open_end else float(v[order[rank]]))
            if p is None:
                return None
            params.append(p)
        return OpChoice(op=unit.op, params=params)

    def _band_choice(self, unit: StatUnit, band: RankBand, st: Stat) -> OpChoice:
        """A band, with the op's own bounds at the stat's extremes (keeping everything, exactly)."""
        params = []
        for side, param in (("min", unit.min_param), ("max", unit.max_param)):
            p = _bound(unit.op, param, side, self._extreme(st, side)) if param else None
            if p is not None:
                params.append(p)
        return OpChoice(op=unit.op, params=params, band=band)

    @staticmethod
    def _extreme(st: Stat, side: str) -> float:
        v = st.finite_values()
        return float(v.min() if side == "min" else v.max()) if len(v) else math.nan

    @staticmethod
    def _kept(space: PoolSpace, choice: OpChoice) -> np.ndarray | None:
        try:
            return space.apply(space.to_recipe([choice])).kept
        except (RecipeError, ValueError, KeyError):
            return None  # a value the op's params refuse: not expressible as thresholds

    def honours_bands(self, space: PoolSpace, unit: StatUnit) -> bool:
        """Whether this space keeps exactly a band's samples and tells bands apart in the recipe's
        fingerprint (``OpChoice.band``); until it does, tied thirds fall back to thresholds."""
        key = (id(space), space.ds.fingerprint)
        if key not in self._honours:
            st, b0, b1 = self.stat(space, unit), self.band(unit, 0), self.band(unit, 1)
            r0 = space.to_recipe([self._band_choice(unit, b0, st)])
            r1 = space.to_recipe([self._band_choice(unit, b1, st)])
            self._honours[key] = r0.fingerprint() != r1.fingerprint() and np.array_equal(
                space.apply(r0).kept, b0.mask(st)
            )
        return self._honours[key]

    # ------------------------------------------------------------------ budget
    def coverage(self, space: PoolSpace, state: SearchState) -> Coverage:
        """How many ops and stats this run's budget reaches, and the budget the full protocol needs."""
        units = self.units(space, state)
        n = stats_within(state.budget_probes, len(units))
        reached = units[:n]
        return Coverage(
            ops_total=len({u.op for u in units}),
            ops_reached=len({u.op for u in reached}),
            stats_total=len(units),
            stats_reached=n,
            budget=state.budget_probes,
            full_budget=budget_for(protocol_cost(len(units))),
            approximate_pools=sum(not p.exact for u in reached for p in self.pools(space, u)),
        )

    def ranking(self, state: SearchState, space: PoolSpace, units: list[StatUnit]) -> list[Ranked]:
        """Stats by their best pool's gain over the baseline, best first (ties keep the planner's order).
        Pools are found by recipe fingerprint, so a pool measured under another purpose still counts."""
        by_fp = {c.recipe_fp: c for c in candidates(state)}
        out = []
        for u in units:
            best: Ranked | None = None
            for pool in self.pools(space, u):
                c = by_fp.get(space.to_recipe([pool.choice]).fingerprint())
                e = effect_vs_baseline(state, c) if c is not None else None
                if e is not None and (best is None or e.mean > best.gain):
                    best = Ranked(u, pool, e.mean)
            if best is not None:
                out.append(best)
        return sorted(out, key=lambda r: -r.gain)

    # ------------------------------------------------------------------ plan
    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return budget_spent()
        cov = self.coverage(space, state)
        if not state.with_purpose(BASELINE):
            plan = baseline_plan()
            return plan.model_copy(
                update={"rationale": f"{plan.rationale} (the random pool); {self._size_note(space)}"}
            )
        reserve = replication_reserve(state.budget_probes)
        reached = self.units(space, state)[: cov.stats_reached]
        probed = {t.recipe_fp for t in state.trials}
        done = {t.purpose for t in state.trials}

        singles = []
        for u in reached:
            for pool in self.pools(space, u):
                fp = space.to_recipe([pool.choice]).fingerprint()
                if pool.purpose in done or fp in probed:
                    continue  # measured (a threshold approximation can equal another pool's recipe)
                probed.add(fp)
                singles.append(
                    Proposal(
                        kind="recipe",
                        ops=[pool.choice],
                        purpose=pool.purpose,
                        hypothesis=f"the {LABELS[pool.part]} third by {u.stat_key} ({pool.size} samples) trains "
                        "better than a random pool of the same size",
                    )
                )
        room = state.remaining - reserve
        if singles and room > 0:
            return Plan(
                proposals=singles[:room],
                rationale=f"single-op pools: the three equal-size thirds by rank of {len(reached)} stat(s) in a "
                f"seeded random order; {cov.describe()}",
            )

        ranked = self.ranking(state, space, reached)
        k = top_k(state.remaining + len(state.with_purpose(COMBO)) - reserve, len(ranked))
        combos = []
        for level in range(2, k + 1):
            for subset in combinations(range(k), level):
                purpose = f"{COMBO}top_{'_'.join(map(str, subset))}"
                ops = [ranked[i].pool.choice for i in subset]
                fp = space.to_recipe(ops).fingerprint()
                empty = not np.logical_and.reduce([ranked[i].pool.mask for i in subset]).any()
                if purpose in done or fp in probed or empty:
                    continue  # the sandbox skips empty intersections too
                probed.add(fp)
                combos.append(
                    Proposal(
                        kind="recipe",
                        ops=ops,
                        purpose=purpose,
                        hypothesis="the intersection of the best pools of "
                        + ", ".join(ranked[i].unit.label for i in subset)
                        + " trains better than each alone",
                    )
                )
        if combos and state.remaining > reserve:
            tops = ", ".join(f"{r.unit.label} {LABELS[r.pool.part]} ({r.gain:+.3f})" for r in ranked[:k])
            return Plan(
                proposals=combos[: state.remaining - reserve],
                rationale=f"all combinations of the best pools of the top {k} stats ({tops}), k sized to the "
                f"budget left; {cov.describe()}",
            )
        plan = replication_plan(state)
        return plan.model_copy(update={"rationale": f"{plan.rationale}; {cov.describe()}"})

    def _size_note(self, space: PoolSpace) -> str:
        third = int(space.n / PARTS + 0.5)
        if self.train_size and self.train_size > third:
            return (
                f"the thirds ({third} samples) are smaller than the probe's train size ({self.train_size}): they "
                f"run undersized against the random pool; --train-size {third} compares them at equal size"
            )
        return f"each third ({third} samples) is compared with a random pool of the probe's train size"
