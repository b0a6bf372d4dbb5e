"""Planner interface: ``propose(state, space) -> Plan``.

Planners are pure functions of the state read from the memory (plus their own config), so a resumed
run re-plans identically. The loop validates, budgets and executes what they propose.
"""

from __future__ import annotations

from typing import Protocol

from recipelab.agent.plan import Plan
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState


class Planner(Protocol):
    name: str

    def propose(self, state: SearchState, space: PoolSpace) -> Plan: ...


#: Probes kept back at the end of every strategy to replicate the best candidates (same protocol for
#: all strategies, so their final choices are equally honest).
def replication_reserve(budget: int) -> int:
    return max(2, round(0.2 * budget))
