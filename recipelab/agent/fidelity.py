"""Multi-fidelity probes: the fidelity ladder and successive halving over it.

A probe's schedule is fixed by its full length (``steps``); a low-fidelity probe is the first part of
that same schedule, stopped at a rung and checkpointed, so promoting it resumes where it stopped and
costs only the steps it adds (a promoted probe is the full probe bit for bit). Successive halving
(Jamieson & Talwalkar 2016; the rungs of Hyperband/ASHA): every unit of a cohort trains to the first
rung, the best ``1/eta`` (by the primary metric, all on the same seed, so the ranking is the paired
ranking against the baseline) go on to the next rung, and so on to full length. Only probes of equal
fidelity are ever compared; the planner's effects, the final choice and its interval use full-length
probes only (``SearchState.trials``), while stopped segments are kept apart (``SearchState.segments``).

With rungs at 1/4, 1/2 and 1 of the schedule and ``eta = 2``, a cohort of n screens costs about n/2
full probes instead of n.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recipelab.agent.recorder import ProbeItem, ProbeRecorder

#: Rungs as shares of the full schedule, and the share of a rung promoted to the next.
DEFAULT_RUNGS: tuple[float, ...] = (0.25, 0.5, 1.0)
DEFAULT_ETA = 2


@dataclass(frozen=True)
class Ladder:
    """The fidelity ladder of a run: rungs in training steps (ascending, the last is the full probe)."""

    rungs: tuple[int, ...]
    eta: int = DEFAULT_ETA

    @classmethod
    def of(cls, steps: int, fractions: Sequence[float] = DEFAULT_RUNGS, eta: int = DEFAULT_ETA) -> Ladder:
        rungs = sorted({max(1, min(steps, round(f * steps))) for f in fractions} | {steps})
        return cls(tuple(rungs), max(2, int(eta)))

    @property
    def steps(self) -> int:
        return self.rungs[-1]

    def eval_steps(self) -> list[int]:
        """Where a full probe also scores itself: the lower rungs (its curve is what a stopped segment of
        the same rung is compared with)."""
        return list(self.rungs[:-1])

    def cohort_cost(self, n: int) -> float:
        """Full probes a cohort of ``n`` units spends when every rung keeps the best ``ceil(k/eta)``."""
        cost, prev, k = 0.0, 0, n
        for i, r in enumerate(self.rungs):
            cost += k * (r - prev) / self.steps
            prev = r
            if i < len(self.rungs) - 1:
                k = max(1, math.ceil(k / self.eta))
        return cost

    def unit_cost(self, n: int = 5) -> float:
        """Expected cost of one screen in a cohort of about ``n`` (what a planner budgets per unit)."""
        return self.cohort_cost(n) / n

    def describe(self) -> str:
        rungs = " -> ".join(str(r) for r in self.rungs)
        return f"fidelity ladder {rungs} steps, keeping the best 1/{self.eta} at each rung"


def successive_halving(
    recorder: ProbeRecorder,
    items: Sequence[ProbeItem],
    step: int,
    ladder: Ladder,
    budget_left: Callable[[], float],
) -> list[int | None]:
    """Run a cohort of probes (same seed) up the ladder; returns the experiment id of each item's last
    segment. Every promotion and stop is logged with the values it was decided on."""
    cohort = list(range(len(items)))
    last: dict[int, int | None] = {}
    prev = 0
    for k, rung in enumerate(ladder.rungs):
        full = rung == ladder.steps
        each = (rung - prev) / ladder.steps
        fit = math.floor(budget_left() / each + 1e-9) if each > 0 else len(cohort)
        if fit <= 0:
            recorder.mem.log_event(
                recorder.run_id,
                "decision",
                f"successive halving stops before the {rung}-step rung: the budget is spent",
                {"fidelity": {"rung": rung, "stopped_for_budget": [items[i][2] for i in cohort]}},
            )
            break
        run = cohort[:fit]
        ids = recorder.submit([items[i] for i in run], step, stop_step=None if full else rung)
        for i, eid in zip(run, ids, strict=True):
            last[i] = eid
        if full:
            break
        scored = [(recorder.value(last[i]), i) for i in run]
        ok = sorted(((v, i) for v, i in scored if v is not None), key=lambda x: -x[0])
        keep = max(1, math.ceil(len(ok) / ladder.eta)) if ok else 0
        promoted, stopped = [i for _, i in ok[:keep]], [i for _, i in ok[keep:]]
        value = {i: v for v, i in ok}
        nxt = ladder.rungs[k + 1]

        def listing(idx: list[int], value: dict[int, float] = value) -> str:
            return ", ".join(f"{items[i][2]} ({value[i]:.4f})" for i in idx)

        recorder.mem.log_event(
            recorder.run_id,
            "decision",
            (
                f"rung {rung}/{ladder.steps} steps: promoted to {nxt} "
                + listing(promoted)
                + (f"; stopped (below the best 1/{ladder.eta}) " + listing(stopped) if stopped else "")
            ),
            {
                "fidelity": {
                    "rung": rung,
                    "next": nxt,
                    "promoted": [{"purpose": items[i][2], "value": value[i], "experiment": last[i]} for i in promoted],
                    "stopped": [{"purpose": items[i][2], "value": value[i], "experiment": last[i]} for i in stopped],
                }
            },
        )
        cohort, prev = promoted, rung
        if not cohort:
            break
    return [last.get(i) for i in range(len(items))]
