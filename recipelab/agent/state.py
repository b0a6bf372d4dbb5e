"""What a planner sees: the run's finished probes (from the memory) and the pool's recipe space.

Built afresh from the memory before every planning step, never kept only in objects, so a resumed run
plans exactly as an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recipelab.agent.plan import OpChoice
from recipelab.agent.steering import Steering, fold

if TYPE_CHECKING:
    from recipelab.agent.warm_start import WarmStart
    from recipelab.memory import Memory

__all__ = [
    "AD_HOC",
    "SearchState",
    "is_search_run",
    "Steering",
    "Trial",
    "is_search_experiment",
    "load_state",
    "search_trials",
    "trial_of",
]


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
class SearchState:
    run_id: str
    budget_probes: int
    trials: list[Trial]
    steering: Steering = field(default_factory=Steering)
    step: int = 0
    primary: str = "mean_recall"
    warm: WarmStart | None = None  # an earlier run's findings, as hints (set by the loop)

    @property
    def used(self) -> int:
        """Probes spent from the budget (``trials`` holds search probes only: see ``load_state``)."""
        return len(self.trials)

    @property
    def remaining(self) -> int:
        return max(0, self.budget_probes - self.used)

    def done_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.done]

    def with_purpose(self, prefix: str) -> list[Trial]:
        return [t for t in self.trials if t.purpose.startswith(prefix)]

    def seeds_of(self, recipe_fp: str) -> set[int]:
        return {t.seed_index for t in self.trials if t.recipe_fp == recipe_fp and t.status != "failed"}


#: Run budget key that marks an ad-hoc probe run (not a search).
AD_HOC = "ad_hoc_probe"


def is_search_run(run: dict[str, Any]) -> bool:
    return not (run.get("budget") or {}).get(AD_HOC)


#: Purpose prefix of the final test-split scoring: the one place that names it.
TEST_PURPOSE = "test:"


def scoring_purpose(name: str) -> str:
    """The purpose recorded for a test-split probe of ``name`` (``final``, ``baseline``, ...)."""
    return f"{TEST_PURPOSE}{name}"


#: Purpose prefix of the scale-up transfer check's probes (``transfer:<rank>``, agent/transfer.py).
TRANSFER_PURPOSE = "transfer:"


def is_search_experiment(e: dict[str, Any]) -> bool:
    """Probes of the search itself: not the final test-split scoring (its metrics are on another split
    and would be pooled with the best recipe's eval runs, since they share its recipe fingerprint), nor
    the transfer check's scale-up probes (a larger model on more data: pooled with the probe-scale runs
    of the same recipe they would corrupt its mean, the seed noise and the ranking, and spend budget)."""
    spec = e.get("spec") or {}
    purpose = e.get("purpose") or ""
    return spec.get("split", "eval") != "test" and not purpose.startswith((TEST_PURPOSE, TRANSFER_PURPOSE))


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def trial_of(e: dict[str, Any]) -> Trial:
    """An experiment row of the memory as the planner sees it."""
    spec = e.get("spec") or {}
    choices = []
    for c in spec.get("choices") or []:
        try:
            choices.append(OpChoice.model_validate(c))
        except ValueError:
            continue
    return Trial(
        id=e["id"],
        recipe_fp=e.get("recipe_fp") or "",
        purpose=e.get("purpose") or "",
        choices=choices,
        seed_index=int(spec.get("seed_index", 0) or 0),
        metric=_finite(e.get("primary_value")),
        status=e.get("status") or "",
        kept=e.get("kept_size") or 0,
        step=e.get("step") or 0,
        recipe=e.get("recipe") or {},
    )


def search_trials(experiments: Iterable[dict[str, Any]]) -> list[Trial]:
    """The search's trials (test-split scoring left out) from experiment rows."""
    return [trial_of(e) for e in experiments if is_search_experiment(e)]


def queued_ids_probed(trials: Iterable[Trial]) -> set[int]:
    """Directive ids of queued recipes that already have a probe (purpose ``user:<id>``)."""
    out = set()
    for t in trials:
        head, _, tail = t.purpose.partition(":")
        if head == "user" and tail.isdigit():
            out.add(int(tail))
    return out


def load_state(memory: Memory, run_id: str, experiments: Iterable[dict[str, Any]] | None = None) -> SearchState:
    """The run's search state rebuilt from the memory: the one loader used by the loop, chat and report.

    Test-split scoring is left out; the steering is the fold of every applied directive (queued recipes
    already probed drop out); the budget is the run's current one (directives may have changed it).
    """
    run = memory.get_run(run_id) or {}
    exps = memory.experiments(run_id) if experiments is None else experiments
    trials = search_trials(exps)
    budget = (run.get("budget") or {}).get("probes")
    if budget is None:
        budget = (run.get("config") or {}).get("budget_probes", len(trials))
    return SearchState(
        run_id=run_id,
        budget_probes=int(budget),
        trials=trials,
        steering=fold(memory.directives(run_id), queued_ids_probed(trials)),
        step=max((t.step for t in trials), default=0),
    )
