"""The ``k-sigma`` baseline: Data-Juicer's one-shot recipe refinement, no training in the loop.

Data-Juicer's sandbox refines a recipe by setting every filter bound at mean -/+ k standard deviations
of its stat (``RefineRecipeViaKSigmaHook`` in data-juicer-sandbox's ``data_juicer_sandbox/hooks.py``, which
calls Data-Juicer's ``tools/hpo/execute_hpo_3sigma.py``; k = 3); this baseline probes that one recipe on
three seeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal
from recipelab.agent.planners.base import BASELINE, PlannerContext, allowed_filters, baseline_plan, budget_spent
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState

if TYPE_CHECKING:
    from recipelab.config import SearchConfig

K_SIGMA = "k-sigma"
#: Standard deviations from the mean at which each bound sits.
K = 3.0
#: Seeds of the single recipe: it is the whole search, so it gets the replication a final choice gets.
SEEDS = 3


class KSigmaPlanner:
    """One shot: every filter bound at mean +- 3 std of its stat (Data-Juicer's k-sigma recipe)."""

    name = "k-sigma"

    @classmethod
    def from_config(cls, cfg: SearchConfig, ctx: PlannerContext) -> KSigmaPlanner:
        return cls()

    def recipe(self, space: PoolSpace, state: SearchState) -> list[OpChoice]:
        """Each bound as the quantile of the pool that the mean -/+ K std value cuts: the share of values
        below it for a lower bound, at or below it for an upper bound (``PoolSpace.quantile_value``
        maps it back to that value on this pool)."""
        out = []
        for name in allowed_filters(space, state):
            e = space.entries[name]
            qs = []
            for d in e.dims:
                st, _ = space.stat_for(name, d.param)
                v = st.finite_values()
                if not len(v):
                    continue
                bound = v.mean() - K * v.std() if d.side == "min" else v.mean() + K * v.std()
                q = np.mean(v < bound) if d.side == "min" else np.mean(v <= bound)
                qs.append(ParamValue(name=d.param, value=round(float(q), 4)))
            out.append(OpChoice(op=name, quantiles=qs))
        return out

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return budget_spent()
        if not state.with_purpose(BASELINE):
            return baseline_plan()
        if not state.with_purpose(K_SIGMA):
            return Plan(
                proposals=[Proposal(kind="recipe", ops=self.recipe(space, state), seeds=SEEDS, purpose=K_SIGMA)],
                rationale=f"mean +- {K:g} std on every stat",
            )
        return Plan(rationale="one shot done", converged=True)
