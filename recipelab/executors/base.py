"""Where probes run. The loop hands over jobs and gets results back; it never cares where they ran."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from recipelab.trainers.base import ProbeResult, ProbeSpec


@dataclass
class ProbeJob:
    """One probe: a spec (its ``train_ids`` are the recipe's kept pool) and the split to score on."""

    key: Any  # the loop's handle (experiment id)
    spec: ProbeSpec
    split: str = "eval"


@dataclass
class JobOutcome:
    job: ProbeJob
    result: ProbeResult | None
    error: str | None
    #: Why the probe was sent again (a worker died under it), oldest first; empty for a first-try outcome.
    #: Executors that never retry leave it empty.
    retries: list[str] = field(default_factory=list)


class Executor(Protocol):
    workers: int

    def run(self, jobs: Sequence[ProbeJob]) -> Iterator[JobOutcome]:
        """Yield each job's outcome as soon as it is known (in any order)."""
        ...

    def close(self) -> None: ...
