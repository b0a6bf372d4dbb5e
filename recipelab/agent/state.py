"""What a planner sees: the run's finished probes (from the memory) and the pool's recipe space.

Built afresh from the memory before every planning step, never kept only in objects, so a resumed run
plans exactly as an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recipelab.agent.plan import OpChoice


@dataclass
class Trial:
    """One probe as the planner sees it."""

    id: int
    recipe_fp: str
    choices: list[OpChoice]
    purpose: str
    seed_index: int
    metric: float | None
    status: str
    kept: int = 0
    step: int = 0
    recipe: dict[str, Any] = field(default_factory=dict)  # Data-Juicer dict

    @property
    def done(self) -> bool:
        return self.status == "done" and self.metric is not None

    @property
    def op_names(self) -> list[str]:
        return [c.op for c in self.choices]


@dataclass
class Steering:
    """Directives from chat/CLI that constrain planning (applied by the loop before each step)."""

    banned: set[str] = field(default_factory=set)
    pinned: set[str] = field(default_factory=set)
    #: (op, param) -> (low_q, high_q): user-narrowed threshold ranges.
    ranges: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    queued: list[list[OpChoice]] = field(default_factory=list)
    queued_ids: list[int] = field(default_factory=list)  # directive id of each queued recipe


@dataclass
class SearchState:
    run_id: str
    budget_probes: int
    trials: list[Trial]
    steering: Steering = field(default_factory=Steering)
    step: int = 0
    primary: str = "mean_recall"

    @property
    def used(self) -> int:
        """Probes spent from the budget (final test-split scoring is not part of the search budget)."""
        return len([t for t in self.trials if not t.purpose.startswith("test:")])

    @property
    def remaining(self) -> int:
        return max(0, self.budget_probes - self.used)

    def done_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.done]

    def with_purpose(self, prefix: str) -> list[Trial]:
        return [t for t in self.trials if t.purpose.startswith(prefix)]

    def seeds_of(self, recipe_fp: str) -> set[int]:
        return {t.seed_index for t in self.trials if t.recipe_fp == recipe_fp and t.status != "failed"}
