"""The shared end game: more seeds only where the final choice is still open, then stop.

Every strategy ends here (the agent, its LLM planner's fallback, the baselines), so their final choices
are equally honest. The final choice is the best lower confidence bound (``analysis.ranked``, pooled
seed noise). Seeds go where that choice is uncertain, as in LUCB best-arm identification
(Kalyanakrishnan et al., 2012): to the leader and to the challengers whose interval overlaps the
leader's, highest upper bound first, one seed each per step, until each has ``seed_cap`` seeds.

It never stalls: a lone leader (no other interval reaches it) needs no tie-break, and rivals that all
have their seeds are tied within what the probes resolve; either way the plan is ``converged`` and the
caller decides whether the remaining budget explores something new or the search ends.
"""

from __future__ import annotations

import math

from scipy import stats as sstats

from recipelab.agent.analysis import Candidate, candidates, noise_sd, overlaps
from recipelab.agent.plan import Plan, Proposal
from recipelab.agent.state import SearchState

#: The smallest difference worth resolving, in seed standard deviations. At probe scale removing one
#: corruption family moves the metric by 0.5-2 seed sds (PROBE_NOTES); a difference below one sd
#: between two final candidates is too small to rank them at probe scale, so seeds stop there.
RESOLVE_SD = 1.0
#: Hard cap on the seeds of one recipe, whatever the noise estimate says.
MAX_SEEDS = 5
#: Never fewer seeds than this for a contested recipe (one more than the first measurement).
MIN_SEEDS = 2


def seed_cap(state: SearchState, pooled: float | None = None, conf: float = 0.9) -> int:
    """Seeds after which a recipe is not replicated further.

    The interval half-width of a mean of n seeds is t(dof) * sd / sqrt(n), with the pooled seed sd and
    its degrees of freedom (``analysis.noise_sd``). It falls below ``RESOLVE_SD`` sds once
    n >= (t / RESOLVE_SD)^2 (90% intervals): 5 seeds while the noise rests on 4-5 degrees of freedom
    (t = 2.13-2.02), 4 at 6-19 (t = 1.94-1.73), 3 beyond (t -> 1.645). Capped at ``MAX_SEEDS`` (fewer
    degrees of freedom would ask for up to 9), and at a quarter of the budget (at least ``MIN_SEEDS``),
    so a small run cannot sink its budget into one comparison.
    """
    if pooled is None:
        pooled = noise_sd(state)
    dof = max(int(getattr(pooled, "dof", 10)), 1)
    t = float(sstats.t.ppf(0.5 + conf / 2, dof))
    n = math.ceil((t / RESOLVE_SD) ** 2 - 1e-9)
    by_budget = max(MIN_SEEDS, state.budget_probes // 4)
    return int(min(max(n, MIN_SEEDS), MAX_SEEDS, by_budget))


def replication_plan(state: SearchState, top: int = 3) -> Plan:
    """One more seed for the leader and its closest challengers while their intervals overlap, each up
    to ``seed_cap``; ``converged`` when nothing is left to settle."""
    if state.remaining <= 0:
        return Plan(rationale="budget spent", converged=True)
    pooled = noise_sd(state)
    cap = seed_cap(state, pooled)
    banned = state.steering.banned
    cs = [c for c in candidates(state) if c.n > 0 and not banned & set(c.trials[0].op_names)]
    if not cs:
        return Plan(rationale="nothing to replicate", converged=True)
    leader = max(cs, key=lambda c: (c.lcb(pooled), c.mean))
    lo, hi = leader.interval(pooled)
    head = f"leader {leader.description} [{leader.purpose}]: {leader.mean:.4f} ({lo:.4f}..{hi:.4f}, {leader.n} seed(s))"
    rivals = [c for c in cs if c is not leader and overlaps(c, leader, pooled)]
    if not rivals:
        return Plan(
            rationale=f"{head} is a lone leader: no other candidate's interval reaches it, no tie-break needed",
            converged=True,
        )
    rivals.sort(key=lambda c: (-c.interval(pooled)[1], -c.mean))
    contest = [leader, *rivals]
    open_ = [c for c in contest if len(state.seeds_of(c.recipe_fp)) < cap]
    if not open_:
        return Plan(
            rationale=(
                f"{head} and {len(rivals)} rival(s) overlap, all at the seed cap {cap}: their difference is "
                f"below {RESOLVE_SD:g} seed sd ({pooled:.3f}), which the probes do not resolve"
            ),
            converged=True,
        )
    props = [
        _more_seeds(state, c, 1, f"{c.description} holds up on a new seed") for c in open_[: min(top, state.remaining)]
    ]
    return Plan(
        proposals=props,
        rationale=(
            f"{head}; {len(rivals)} rival(s) overlap it: one more seed for {len(props)} of them (leader first, "
            f"then the highest upper bounds), at most {cap} seeds each (seed noise sd {pooled:.3f})"
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
        purpose=f"replicate:{t0.purpose}" if not t0.purpose.startswith("replicate:") else t0.purpose,
        hypothesis=hypothesis,
    )
