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
    #: Share of the full probe's schedule this probe trained to (1.0: a full-length probe; less: a
    #: multi-fidelity segment, kept apart in ``SearchState.segments``).
    fidelity: float = 1.0
    #: Budget it spent, in full probes: the steps it trained itself (a segment resumed from a checkpoint
    #: costs only the steps it added) over the full schedule.
    cost: float = 1.0
    #: Intermediate scores of the primary metric by step (full probes run with the fidelity ladder).
    curve: dict[int, float] = field(default_factory=dict)
    end_step: int = 0

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
    #: Low-fidelity segments (probes stopped at a rung of the fidelity ladder). Never compared with full
    #: probes: every analysis reads ``trials``; only the halving scheduler and the budget read these.
    segments: list[Trial] = field(default_factory=list)
    #: Expected budget of one screen (1.0; less when screens go up a fidelity ladder): set by the loop.
    unit_cost: float = 1.0

    @property
    def compute_used(self) -> float:
        """Budget spent, in full probes (a segment counts the share of the schedule it trained)."""
        return float(sum(t.cost for t in self.trials) + sum(t.cost for t in self.segments))

    @property
    def used(self) -> int | float:
        """Probes spent from the budget (``trials`` holds search probes only: see ``load_state``); a whole
        number unless low-fidelity segments spent part of a probe."""
        c = round(self.compute_used, 4)
        return int(c) if c == int(c) else c

    @property
    def remaining(self) -> int:
        """Whole probes left in the budget."""
        return max(0, math.floor(self.budget_probes - self.compute_used + 1e-9))

    @property
    def remaining_compute(self) -> float:
        """Budget left in full probes, fractions included (what a low-fidelity segment can still spend)."""
        return max(0.0, self.budget_probes - self.compute_used)

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


def fidelity_of(e: dict[str, Any]) -> tuple[float, float, int]:
    """(fidelity, cost, end step) of an experiment row, from its probe spec (and, once done, its result)."""
    spec = e.get("spec") or {}
    probe = spec.get("probe") or {}
    steps = int(probe.get("steps") or 0)
    if steps <= 0:
        return 1.0, 1.0, 0
    stop = min(int(probe.get("stop_step") or steps), steps)
    start = int(spec.get("resume_step") or 0)
    result = e.get("result") or {}
    if result.get("end_step"):
        start, stop = int(result.get("start_step") or 0), int(result["end_step"])
        # the steps the trainer ran the schedule for: a task with its own default (t2i: 500) resolves the spec's
        # unset steps itself, so the recorded spec's value is not the schedule's length
        steps = int(result.get("steps") or steps)
    return stop / steps, max(0.0, (stop - start) / steps), stop


def trial_of(e: dict[str, Any]) -> Trial:
    """An experiment row of the memory as the planner sees it."""
    spec = e.get("spec") or {}
    fidelity, cost, end = fidelity_of(e)
    curve: dict[int, float] = {}
    result = e.get("result") or {}
    primary = result.get("primary_metric")
    for point in result.get("curve") or []:
        v = _finite((point.get("metrics") or {}).get(primary)) if isinstance(point, dict) else None
        if v is not None:
            curve[int(point["step"])] = v
    for point in spec.get("curve_before") or []:  # points of the segments this probe resumed from
        v = _finite(point.get("value"))
        if v is not None:
            curve.setdefault(int(point["step"]), v)
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
        fidelity=fidelity,
        cost=cost,
        curve=curve,
        end_step=end,
    )


def search_trials(experiments: Iterable[dict[str, Any]]) -> list[Trial]:
    """The search's full-length trials (test-split scoring and low-fidelity segments left out)."""
    return [t for t in search_probes(experiments) if t.fidelity >= 1.0]


def search_probes(experiments: Iterable[dict[str, Any]]) -> list[Trial]:
    """Every probe of the search, low-fidelity segments included."""
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
    probes = search_probes(exps)
    trials = [t for t in probes if t.fidelity >= 1.0]
    budget = (run.get("budget") or {}).get("probes")
    if budget is None:
        budget = (run.get("config") or {}).get("budget_probes", len(trials))
    return SearchState(
        run_id=run_id,
        budget_probes=int(budget),
        trials=trials,
        steering=fold(memory.directives(run_id), queued_ids_probed(trials)),
        step=max((t.step for t in probes), default=0),
        segments=[t for t in probes if t.fidelity < 1.0],
    )
