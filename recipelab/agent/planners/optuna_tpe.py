"""The ``optuna`` baseline: plain TPE over the agent's whole candidate space, no planner in front.

It answers "would a generic black-box optimiser with the same budget do as well?", so it must see the
same candidates as the agent: every filter (on/off plus its thresholds) and every deduplicator (on/off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, SearchDim
from recipelab.agent.planners.base import (
    BASELINE,
    PlannerContext,
    allowed_dedups,
    allowed_filters,
    baseline_plan,
    budget_spent,
    replication_reserve,
)
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState

if TYPE_CHECKING:
    from recipelab.config import SearchConfig

SEARCH = "search"


class OptunaPlanner:
    """TPE over the whole space: every filter and every deduplicator can be switched on or off, and each
    filter bound may cut up to ``TAIL`` of the pool on its side (wider ranges make the intersection of 18
    random filters keep almost nothing, which measures nothing)."""

    name = "optuna"
    TAIL = 0.25

    @classmethod
    def from_config(cls, cfg: SearchConfig, ctx: PlannerContext) -> OptunaPlanner:
        return cls()

    def search_space(self, space: PoolSpace, state: SearchState) -> tuple[list[OpChoice], list[SearchDim]]:
        """The starting ops (filters at keep-everything bounds, dedups as they are) and the threshold dims."""
        ops, dims = [], []
        for name in allowed_filters(space, state):
            e = space.entries[name]
            ops.append(
                OpChoice(
                    op=name,
                    quantiles=[ParamValue(name=d.param, value=0.0 if d.side == "min" else 1.0) for d in e.dims],
                )
            )
            dims += [
                SearchDim(
                    op=name,
                    param=d.param,
                    low_q=0.0 if d.side == "min" else 1 - self.TAIL,
                    high_q=self.TAIL if d.side == "min" else 1.0,
                )
                for d in e.dims
            ]
        ops += [OpChoice(op=name) for name in allowed_dedups(space, state)]
        return ops, dims

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return budget_spent()
        if not state.with_purpose(BASELINE):
            return baseline_plan()
        reserve = replication_reserve(state.budget_probes)
        n_search = len(state.with_purpose(SEARCH))
        before = state.used - n_search - len(state.with_purpose("replicate"))
        n_trials = state.budget_probes - reserve - before - n_search
        if n_trials >= 1:
            ops, dims = self.search_space(space, state)
            n_dedup = len(allowed_dedups(space, state))
            return Plan(
                proposals=[
                    Proposal(
                        kind="search",
                        ops=ops,
                        search=dims,
                        n_trials=n_trials,
                        purpose=SEARCH,
                        toggle_ops=[o.op for o in ops],
                    )
                ],
                rationale=f"TPE over {len(ops)} on/off switches ({n_dedup} deduplicators) and {len(dims)} thresholds",
            )
        return replication_plan(state)
