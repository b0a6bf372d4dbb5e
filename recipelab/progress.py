"""One progress-bar helper, so every long operation reports the same way (rich, to stderr)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")


def progress_iter(it: Iterable[T], total: int | None, desc: str, quiet: bool = False) -> Iterator[T]:
    """Yield from ``it`` with a progress bar on stderr (none when quiet or for tiny jobs)."""
    if quiet or (total is not None and total < 200):
        yield from it
        return
    from rich.console import Console

    cols = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, console=Console(file=sys.stderr), transient=True) as prog:
        task = prog.add_task(desc, total=total)
        for x in it:
            yield x
            prog.advance(task)
