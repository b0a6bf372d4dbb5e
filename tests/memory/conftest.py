from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recipelab.memory import Memory

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ws" / "memory.sqlite"


@pytest.fixture
def mem(db_path: Path):
    m = Memory(db_path)
    yield m
    m.close()


def python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _spawn(code: str, *args: str, **kw) -> subprocess.Popen:
    """Start `python -c code args...` with recipelab importable."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=python_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.fixture
def spawn():
    """`spawn(code, *args)` starts `python -c code args...` (recipelab importable); killed at teardown."""
    procs: list[subprocess.Popen] = []

    def start(code: str, *args: str, **kw) -> subprocess.Popen:
        p = _spawn(code, *args, **kw)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.communicate()
