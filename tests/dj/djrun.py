"""Calling the real Data-Juicer from recipelab's tests and benchmarks: its venv, its environment, the driver.

Data-Juicer (py-data-juicer, pinned in the ``dj`` extra) lives in its own venv, made by
``scripts/dj_env.sh``, because its pins must not touch recipelab's; it is run as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("dj_driver.py")


def dj_python() -> Path | None:
    """The Data-Juicer venv's python: ``$RECIPELAB_DJ_PYTHON``, else ``<repo>/.venv-dj/bin/python``."""
    env = os.environ.get("RECIPELAB_DJ_PYTHON")
    p = Path(env) if env else REPO / ".venv-dj" / "bin" / "python"
    return p if p.exists() else None


def dj_env(tmp: Path) -> dict[str, str]:
    """Environment for Data-Juicer: offline, its caches under ``tmp``, no recipelab venv leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HOME=str(tmp / "hf"),
        DATA_JUICER_CACHE_HOME=str(tmp / "djcache"),
        RAY_DISABLE_IMPORT_WARNING="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def run_driver(
    python: Path,
    tmp: Path,
    jsonl: Path,
    cases: list[dict[str, Any]],
    timeout: int = 900,
    with_stats: bool = True,
) -> dict:
    """Run ``cases`` (``{"id", "op", "params"}``) with the real Data-Juicer on ``jsonl``; results by case id."""
    job = tmp / "dj_job.json"
    out = tmp / "dj_out.json"
    job.write_text(json.dumps({"jsonl": str(jsonl), "cases": cases, "with_stats": with_stats}), encoding="utf-8")
    proc = subprocess.run(
        [str(python), str(DRIVER), str(job), str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dj_env(tmp),
        cwd=tmp,
    )
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"Data-Juicer driver failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def dj_bin(name: str) -> Path | None:
    """A console script of the Data-Juicer venv (``dj-process``), next to its python."""
    py = dj_python()
    if py is None:
        return None
    p = py.parent / name
    return p if p.exists() else None

