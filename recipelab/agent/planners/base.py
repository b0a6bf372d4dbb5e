"""Planner interface, ``propose(state, space) -> Plan``, and the parts every strategy shares.

Planners are pure functions of the state read from the memory (plus their own config), so a resumed
run re-plans identically. The loop validates, budgets and executes what they propose. The helpers here
(the no-filter baseline, the replication reserve, the ops a strategy may use) are shared so that the
agent and every baseline start and end by the same protocol, which is what makes them comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from recipelab.agent.plan import Plan, Proposal
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState

#: Purpose of the no-filter reference probes. The probe trains on a seeded draw of the probe's train
#: size from the kept pool, so the no-filter pool is also "a random pool of the same size" as any
#: filtered pool of at least that size: every effect is measured against it (``analysis.baseline``).
BASELINE = "baseline"
#: Seeds of the baseline: two, so the run has a first estimate of seed noise before anything else.
BASELINE_SEEDS = 2


class Planner(Protocol):
    name: str

    def propose(self, state: SearchState, space: PoolSpace) -> Plan: ...


@dataclass(frozen=True)
class PlannerContext:
    """What a planner may need beyond the search config; the loop has it, the config does not."""

    memory: Any = None
    run_id: str | None = None
    train_size: int = 0


def replication_reserve(budget: int) -> int:
    """Probes kept back at the end of every strategy to replicate the best candidates (same protocol for
    all strategies, so their final choices are equally honest)."""
    return max(2, round(0.2 * budget))


def baseline_plan() -> Plan:
    """The first plan of every baseline strategy: the no-filter pool on two seeds."""
    return Plan(
        proposals=[
            Proposal(kind="recipe", ops=[], seeds=BASELINE_SEEDS, purpose=BASELINE, hypothesis="no-filter reference")
        ],
        rationale="no-filter baseline on two seeds",
    )


def budget_spent() -> Plan:
    return Plan(rationale="budget spent", converged=True)


def allowed_filters(space: PoolSpace, state: SearchState) -> list[str]:
    """The space's filters the user has not banned, in the space's order."""
    return [n for n in space.filter_names if n not in state.steering.banned]


def allowed_dedups(space: PoolSpace, state: SearchState) -> list[str]:
    """The space's deduplicators the user has not banned, in the space's order."""
    return [n for n in space.dedup_names if n not in state.steering.banned]
