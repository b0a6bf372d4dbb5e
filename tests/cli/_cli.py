"""Running the CLI in tests: typer's runner in-process (fast), or a real subprocess when what is tested is
the terminal (stderr not a tty, wrapping)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from recipelab.cli import app

runner = CliRunner()

#: The smallest probe that still trains and evaluates (seconds on CPU).
TINY_PROBE = ["--steps", "3", "--batch-size", "8", "--image-size", "16", "--train-size", "32"]


def invoke(*args: str, ws: Path | None = None) -> Result:
    """``recipelab ARGS [--workspace ws]`` in-process; exceptions propagate (a traceback is a test failure)."""
    extra = ["--workspace", str(ws)] if ws is not None else []
    return runner.invoke(app, [*args, *extra], catch_exceptions=False)


def run_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m recipelab ARGS`` with stdout/stderr as pipes (not terminals) and an 80-column COLUMNS,
    the conditions under which rich used to wrap error lines."""
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    env.pop("FORCE_COLOR", None)
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "recipelab", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
