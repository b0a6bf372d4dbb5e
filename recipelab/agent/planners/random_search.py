"""The ``random`` baseline: what a user gets by trying random recipes with the same budget.

Run through the same loop, budget and end game (replication, lower-bound choice) as the agent, so the
comparison measures the planning and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal
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
from recipelab.operators.base import Filter

if TYPE_CHECKING:
    from recipelab.config import SearchConfig

#: Purpose prefix of the random recipes (``random:<n>``, n counts them, so a resumed run draws the same).
RANDOM = "random:"
#: Most ops in one random recipe: more filters intersected at random keep too little to train on.
MAX_OPS = 4
#: Draws tried before giving up on a recipe not measured yet.
REDRAWS = 50


class RandomPlanner:
    """Random subsets of 1..4 ops (filters and deduplicators) with random thresholds, one threshold per
    filter, each in its side's default quantile range; then the shared replication end game."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @classmethod
    def from_config(cls, cfg: SearchConfig, ctx: PlannerContext) -> RandomPlanner:
        return cls(seed=cfg.seed)

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return budget_spent()
        if not state.with_purpose(BASELINE):
            return baseline_plan()
        n_random = len(state.with_purpose(RANDOM))
        if state.remaining > replication_reserve(state.budget_probes):
            probed = {t.recipe_fp for t in state.trials}
            for attempt in range(REDRAWS):  # a draw equal to a measured recipe is redrawn
                choices = self.draw(np.random.default_rng([self.seed, n_random, attempt]), space, state)
                if space.to_recipe(choices).fingerprint() not in probed:
                    break
            return Plan(
                proposals=[Proposal(kind="recipe", ops=choices, purpose=f"{RANDOM}{n_random}")],
                rationale="random recipe",
            )
        return replication_plan(state)

    @staticmethod
    def draw(rng: np.random.Generator, space: PoolSpace, state: SearchState) -> list[OpChoice]:
        """One random recipe: distinct ops; a filter gets one of its bounds at a uniform quantile of that
        bound's default range (``QuantileDim.low..high``), a deduplicator is just switched on."""
        names = allowed_filters(space, state) + allowed_dedups(space, state)
        k = int(rng.integers(1, min(MAX_OPS, len(names)) + 1))
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
