"""What every command shares: the two consoles, one-line errors, JSON output, the common options, and the
one way to open a workspace, its memory and a run.

Errors are the CLI's contract with scripts: ``error: <file>:<line>: <field>: <message>`` on ONE line of
stderr, whatever the terminal width, and never a traceback for a mistake in the input. So the stderr
console never wraps (``soft_wrap``), and every library error that is a user's mistake (ValueError and its
kin: DataError, RecipeError, ConfigError, UnknownTaskError) ends in `fail`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from recipelab.memory import Memory
    from recipelab.workspace import Workspace

#: stdout: tables and results. Plain result lines are printed with ``soft_wrap`` (see `say`).
out = Console()
#: stderr: errors, warnings, progress. ``soft_wrap`` by default: a long error line is never re-wrapped at
#: 80 columns when stderr is a pipe or a file (where rich cannot know a width).
err = Console(stderr=True, soft_wrap=True)


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print ``error: msg`` as one stderr line (no markup read from ``msg``) and exit with ``code``."""
    err.print(Text.assemble(("error: ", "red"), msg), soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def warn(msg: str) -> None:
    err.print(Text.assemble(("warning: ", "yellow"), msg), soft_wrap=True, highlight=False)


def say(msg: str, style: str | None = None, markup: bool = True) -> None:
    """A result line on stdout, never wrapped (paths in it stay copy-pasteable in logs and pipes)."""
    out.print(msg, style=style, soft_wrap=True, highlight=False, markup=markup)


# ============================================================================ JSON


def clean_floats(obj: Any) -> Any:
    """NaN/inf are not JSON: replaced with None, so ``--json`` output always parses."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_floats(v) for v in obj]
    return obj


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return clean_floats(o.item())
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_json(obj: Any) -> None:
    """One JSON document on stdout (the only thing on stdout under ``--json``)."""
    sys.stdout.write(json.dumps(clean_floats(obj), indent=2, default=_json_default, allow_nan=False) + "\n")


# ============================================================================ options


def _check_on_error(v: str) -> str:
    if v not in ("skip", "fail"):
        fail(f"--on-error must be skip or fail, not {v!r}")
    return v


def _check_task(v: str | None) -> str | None:
    """Unknown tasks end here, before any data is read: one line naming the known tasks."""
    if v is None:
        return v
    from recipelab.trainers.registry import UnknownTaskError, check_task

    try:
        return check_task(v)
    except UnknownTaskError as e:
        fail(str(e))


WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="RECIPELAB_WORKSPACE", help="Workspace folder (default ./.recipelab)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OnErrorOpt = Annotated[
    str, typer.Option("--on-error", help="skip (count, list, go on) or fail (stop at first).", callback=_check_on_error)
]
TaskOpt = Annotated[
    str | None,
    typer.Option("--task", help="Probe task, from the trainer registry (clip, caption, t2i).", callback=_check_task),
]
RunArg = Annotated[
    str | None, typer.Argument(help="Run id (default: 'latest', the newest search run; ad-hoc probes are skipped).")
]


def split_csv(value: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None (or only commas) -> None."""
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


# ============================================================================ workspace, memory, run


@dataclass
class Opened:
    """An opened workspace, its memory and (when asked for) the resolved run id."""

    ws: Workspace
    mem: Memory
    run_id: str


_NO_RUN = "\0no-run"


def open_workspace(workspace: Path | None, run: str | None = _NO_RUN, optuna_storage: str | None = None) -> Opened:
    """Open the workspace and its memory; resolve ``run`` unless it is left out.

    ``run``: an id, or None / ``latest`` for the newest search run (ad-hoc probes skipped). An unknown
    or missing run ends in a one-line error. The Optuna storage is ``optuna_storage`` when given, else the
    one the resolved run was started with, else the workspace default (env, then its SQLite file), so that
    a resumed run, its report and its dashboard command all point at the run's own studies.
    """
    from recipelab.agent.runs import resolve_run
    from recipelab.memory import Memory
    from recipelab.workspace import Workspace

    ws = Workspace.open(workspace, optuna_storage=optuna_storage)
    mem = Memory(ws.memory_path)
    if run == _NO_RUN:
        return Opened(ws, mem, "")
    try:
        run_id = resolve_run(mem, run)
    except ValueError as e:
        fail(str(e))
    stored = ((mem.get_run(run_id) or {}).get("config") or {}).get("optuna_storage")
    if optuna_storage is None and stored:
        ws = dataclasses.replace(ws, optuna_url=stored)
    return Opened(ws, mem, run_id)
