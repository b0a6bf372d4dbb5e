"""Baseline strategies, run through the same loop, budget and end game as the agent, for honest
comparison: random recipes, plain Optuna over the whole space, Data-Juicer's sandbox recipe (single-op
tertiles -> top-3 intersection), and one-shot k-sigma thresholds."""

from __future__ import annotations

import numpy as np

from recipelab.agent.analysis import candidates, effect_vs_baseline
from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, SearchDim
from recipelab.agent.planners.base import replication_reserve
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState
from recipelab.operators.base import Filter

BASELINE = "baseline"


def _baseline_plan() -> Plan:
    return Plan(
        proposals=[Proposal(kind="recipe", ops=[], seeds=2, purpose=BASELINE, hypothesis="no-filter reference")],
        rationale="no-filter baseline on two seeds",
    )


def _allowed(space: PoolSpace, state: SearchState) -> list[str]:
    return [n for n in space.filter_names if n not in state.steering.banned]


class RandomPlanner:
    """Random subsets of ops with random thresholds (in each side's default quantile range)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return Plan(rationale="budget spent", converged=True)
        if not state.with_purpose(BASELINE):
            return _baseline_plan()
        n_random = len(state.with_purpose("random:"))
        if state.remaining > replication_reserve(state.budget_probes):
            probed = {t.recipe_fp for t in state.trials}
            for attempt in range(50):  # a draw equal to a measured recipe is redrawn
                choices = self._draw(np.random.default_rng([self.seed, n_random, attempt]), space, state)
                if space.to_recipe(choices).fingerprint() not in probed:
                    break
            return Plan(
                proposals=[Proposal(kind="recipe", ops=choices, purpose=f"random:{n_random}")],
                rationale="random recipe",
            )
        return replication_plan(state)

    @staticmethod
    def _draw(rng: np.random.Generator, space: PoolSpace, state: SearchState) -> list[OpChoice]:
        names = _allowed(space, state) + space.dedup_names
        k = int(rng.integers(1, min(4, len(names)) + 1))
        choices = []
        for op in rng.choice(names, size=k, replace=False):
            e = space.entries[str(op)]
            if not isinstance(e.op, Filter) or not e.dims:
                choices.append(OpChoice(op=str(op)))
                continue
            d = e.dims[int(rng.integers(len(e.dims)))]
            q = round(float(rng.uniform(d.low, d.high)), 4)
            choices.append(OpChoice(op=str(op), quantiles=[ParamValue(name=d.param, value=q)]))
        return choices


class OptunaPlanner:
    """TPE over the whole space, no planner: every filter can be switched on or off, and each of its
    bounds may cut up to ``TAIL`` of the pool on its side (wider ranges make the intersection of 18 random
    filters keep almost nothing, which measures nothing)."""

    name = "optuna"
    TAIL = 0.25

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return Plan(rationale="budget spent", converged=True)
        if not state.with_purpose(BASELINE):
            return _baseline_plan()
        reserve = replication_reserve(state.budget_probes)
        n_search = len(state.with_purpose("search"))
        before = state.used - n_search - len(state.with_purpose("replicate"))
        n_trials = state.budget_probes - reserve - before - n_search
        if n_trials >= 1:
            ops, dims = [], []
            for name in _allowed(space, state):
                e = space.entries[name]
                qs = [ParamValue(name=d.param, value=0.0 if d.side == "min" else 1.0) for d in e.dims]
                ops.append(OpChoice(op=name, quantiles=qs))
                dims += [
                    SearchDim(
                        op=name,
                        param=d.param,
                        low_q=0.0 if d.side == "min" else 1 - self.TAIL,
                        high_q=self.TAIL if d.side == "min" else 1.0,
                    )
                    for d in e.dims
                ]
            return Plan(
                proposals=[
                    Proposal(
                        kind="search",
                        ops=ops,
                        search=dims,
                        n_trials=n_trials,
                        purpose="search",
                        toggle_ops=[o.op for o in ops],
                    )
                ],
                rationale=f"TPE over {len(ops)} on/off switches and {len(dims)} thresholds",
            )
        return replication_plan(state)


def tertile_bands(space: PoolSpace, op: str) -> list[tuple[str, list[ParamValue]]]:
    """The tertile pools an op's thresholds can express: (label, quantile params)."""
    e = space.entries[op]
    sides = {d.side: d.param for d in e.dims}
    bands = []
    for label, lo, hi in (("low", 0.0, 1 / 3), ("mid", 1 / 3, 2 / 3), ("high", 2 / 3, 1.0)):
        qs = []
        if lo > 0:
            if "min" not in sides:
                continue
            qs.append(ParamValue(name=sides["min"], value=round(lo, 4)))
        if hi < 1:
            if "max" not in sides:
                continue
            qs.append(ParamValue(name=sides["max"], value=round(hi, 4)))
        bands.append((label, qs))
    return bands


class DJSandboxPlanner:
    """Data-Juicer sandbox: each op's tertile pools vs the baseline, then the intersection of the
    top-3 ops' best tertiles."""

    name = "dj-sandbox"

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return Plan(rationale="budget spent", converged=True)
        if not state.with_purpose(BASELINE):
            return _baseline_plan()
        reserve = replication_reserve(state.budget_probes)
        done = {t.purpose for t in state.with_purpose("tertile:")}
        probed = {t.recipe_fp for t in state.trials}
        todo = []
        for op in _allowed(space, state):
            for label, qs in tertile_bands(space, op):
                p = f"tertile:{op}:{label}"
                choice = OpChoice(op=op, quantiles=qs)
                # ties in a stat can make a tertile the same recipe as another pool: skip, it is measured
                if p not in done and space.to_recipe([choice]).fingerprint() not in probed:
                    todo.append(Proposal(kind="recipe", ops=[choice], purpose=p))
        room = state.remaining - reserve - 1
        if todo and room > 0:
            return Plan(proposals=todo[:room], rationale="single-op tertile pools")
        if not state.with_purpose("top3"):
            best: dict[str, tuple[float, list[OpChoice]]] = {}
            for c in candidates(state):
                if not c.purpose.startswith("tertile:"):
                    continue
                e = effect_vs_baseline(state, c)
                op = c.purpose.split(":")[1]
                if e is not None and (op not in best or e.mean > best[op][0]):
                    best[op] = (e.mean, c.trials[0].choices)
            top = sorted(best.items(), key=lambda x: -x[1][0])[:3]
            if top:
                ops = [ch for _, (_, chs) in top for ch in chs]
                return Plan(
                    proposals=[Proposal(kind="recipe", ops=ops, purpose="top3")],
                    rationale="intersection of the top-3 ops' best tertiles",
                )
        return replication_plan(state)


class KSigmaPlanner:
    """One shot: every filter bound at mean +- 3 std of its stat (Data-Juicer's k-sigma recipe)."""

    name = "k-sigma"

    def recipe(self, space: PoolSpace, state: SearchState) -> list[OpChoice]:
        out = []
        for name in _allowed(space, state):
            e = space.entries[name]
            qs = []
            for d in e.dims:
                st, _ = space.stat_for(name, d.param)
                v = st.finite_values()
                if not len(v):
                    continue
                bound = v.mean() - 3 * v.std() if d.side == "min" else v.mean() + 3 * v.std()
                qs.append(
                    ParamValue(
                        name=d.param,
                        value=round(float(np.mean(v < bound) if d.side == "min" else np.mean(v <= bound)), 4),
                    )
                )
            out.append(OpChoice(op=name, quantiles=qs))
        return out

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return Plan(rationale="budget spent", converged=True)
        if not state.with_purpose(BASELINE):
            return _baseline_plan()
        if not state.with_purpose("k-sigma"):
            return Plan(
                proposals=[Proposal(kind="recipe", ops=self.recipe(space, state), seeds=3, purpose="k-sigma")],
                rationale="mean +- 3 std on every stat",
            )
        return Plan(rationale="one shot done", converged=True)
