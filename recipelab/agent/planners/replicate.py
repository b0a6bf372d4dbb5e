"""The shared end game: give the most promising candidates more seeds, then choose by lower bound."""

from __future__ import annotations

from recipelab.agent.analysis import Candidate, candidates, noise_sd
from recipelab.agent.plan import Plan, Proposal
from recipelab.agent.state import SearchState

TARGET_SEEDS = 3


def replication_plan(state: SearchState, top: int = 3) -> Plan:
    """Seeds go where the ranking is uncertain: to the candidates whose upper bound reaches the best
    lower bound, most promising first, until each has TARGET_SEEDS."""
    if state.remaining <= 0:
        return Plan(rationale="budget spent", converged=True)
    pooled = noise_sd(state)
    cs = [c for c in candidates(state) if c.n > 0 and not state.steering.banned & set(c.trials[0].op_names)]
    if not cs:
        return Plan(rationale="nothing to replicate", converged=True)
    best_lcb = max(c.lcb(pooled) for c in cs)
    contenders = [c for c in cs if c.interval(pooled)[1] >= best_lcb]
    contenders.sort(key=lambda c: -c.mean)
    props = []
    left = state.remaining
    for c in contenders[:top]:
        need = TARGET_SEEDS - len(state.seeds_of(c.recipe_fp))
        if need <= 0:
            continue
        k = min(need, left)
        if k <= 0:
            break
        props.append(_more_seeds(state, c, k, f"{c.description} holds up on new seeds"))
        left -= k
    if not props:
        # Every contender has its seeds: spend what is left on the single best, for a tighter interval.
        c = max(contenders, key=lambda c: c.mean)
        props.append(_more_seeds(state, c, min(state.remaining, 2), "tighten the best candidate's interval"))
    return Plan(
        proposals=props,
        rationale=(
            f"replicate {len(props)} contender(s) whose interval reaches the best lower bound {best_lcb:.3f} "
            f"(seed noise sd {pooled:.3f})"
        ),
    )


def _more_seeds(state: SearchState, c: Candidate, k: int, hypothesis: str) -> Proposal:
    """k more seeds of a candidate, after the seeds it already has."""
    t0 = c.trials[0]
    first = max(state.seeds_of(c.recipe_fp), default=-1) + 1
    return Proposal(
        kind="recipe",
        ops=t0.choices,
        seeds=k,
        first_seed=first,
        purpose=f"replicate:{t0.purpose}",
        hypothesis=hypothesis,
    )
