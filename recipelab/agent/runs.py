"""Runs as the CLI lists and opens them: which run ``latest`` means, per-run rows, one ad-hoc probe.

Ad-hoc probes (``recipelab probe``) are runs too (their results are cached and reusable), but they are
marked so that ``latest`` in logs, chat and report lands on the newest *search*.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from recipelab.agent.loop import SearchLoop
from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.agent.state import AD_HOC, is_search_run
from recipelab.config import SearchConfig
from recipelab.export import ExportResult
from recipelab.memory import Memory
from recipelab.recipes import Recipe
from recipelab.workspace import Workspace


def latest_run(memory: Memory, include_probes: bool = False) -> str | None:
    """The newest search run (ad-hoc probe runs are skipped unless asked for)."""
    for r in memory.list_runs():
        if include_probes or is_search_run(r):
            return r["id"]
    return None


def resolve_run(memory: Memory, run_id: str | None) -> str:
    """``None`` or ``latest`` -> the newest search run; raises ValueError naming what is missing."""
    rid = latest_run(memory) if run_id in (None, "latest") else run_id
    if rid is None:
        raise ValueError("no run in this workspace yet; start one with `recipelab search`")
    if memory.get_run(rid) is None:
        raise ValueError(f"no run {rid!r}; see `recipelab runs`")
    return rid


def run_rows(memory: Memory) -> list[dict[str, Any]]:
    """Every run with its search-probe count (test-split scoring left out), newest first."""
    from recipelab.agent.state import load_state

    out = []
    for r in memory.list_runs():
        st = load_state(memory, r["id"])
        out.append({**r, "kind": "search" if is_search_run(r) else "probe", "probes_used": st.used})
    return out


def recipe_choices(recipe: Recipe) -> list[OpChoice]:
    """A recipe's ops with their explicit parameter values, as the planner's choices."""
    return [
        OpChoice(
            op=o.name,
            params=[
                ParamValue(name=k, value=v)
                for k, v in o.params.model_dump(mode="json").items()
                if v is not None and isinstance(v, (int, float, str, bool))
            ],
        )
        for o in recipe.build_ops()
    ]


def probe_recipe(
    ws: Workspace,
    memory: Memory,
    cfg: SearchConfig,
    recipe_path: str | Path,
    seed: int = 0,
    quiet: bool = False,
    console: Console | None = None,
) -> tuple[str, dict[str, Any] | None, int]:
    """Apply a recipe, train one probe, evaluate and store it, as an ad-hoc run.

    Returns (run id, the experiment row or None, pool size). Raises ValueError (RecipeError, DataError)
    with a one-line message; the run is then marked failed.
    """
    recipe = Recipe.load(recipe_path)
    budget = {"probes": 1, AD_HOC: True}
    run_id = memory.create_run(cfg.model_dump(mode="json"), budget)
    loop = None
    try:
        memory.set_run_status(run_id, "running")
        loop = SearchLoop.build(ws, memory, run_id, cfg, quiet=quiet, console=console)
        loop.prepare(ops=[o.name for o in recipe.process])
        assert loop.recorder is not None
        ids = [i for i in loop.recorder.submit([(recipe_choices(recipe), seed, "probe")], step=1) if i is not None]
    except ValueError:
        memory.set_run_status(run_id, "failed")
        raise
    finally:
        if loop is not None:
            loop.close()
    exp = memory.get_experiment(ids[0]) if ids else None
    memory.set_run_status(run_id, "done" if exp and exp["status"] == "done" else "failed")
    return run_id, exp, len(loop.env.pool)


def export_run(
    ws: Workspace,
    memory: Memory,
    run_id: str,
    out: str | Path,
    *,
    dataset_path: str | Path | None = None,
    export_path: str | Path | None = None,
    np_workers: int | None = None,
    quiet: bool = True,
) -> ExportResult:
    """A finished run's final recipe as a Data-Juicer config ``dj-process`` runs unchanged.

    Ops Data-Juicer lacks are named in the config's comments and in a side file with their kept ids on the
    run's pool (and each threshold's quantile). ``dataset_path`` defaults to the run's pool (absolute).
    Raises ValueError with a one-line reason (no final recipe yet, unreadable pool, ...).
    """
    from recipelab.agent.loop import resume_config
    from recipelab.export import export_recipe

    run = memory.get_run(run_id) or {}
    summary = run.get("summary") or {}
    path = summary.get("best_recipe_full") or summary.get("best_recipe")
    if not path or not Path(path).exists():
        raise ValueError(f"run {run_id} has no final recipe yet (status {run.get('status')}); see `recipelab logs`")
    recipe = Recipe.load(path)
    cfg = resume_config(memory, run_id)
    pool = ws.read(cfg.data, on_error=cfg.on_error, quiet=quiet)
    return export_recipe(
        recipe,
        out,
        dataset=pool,
        cache=ws.stats_cache(),
        dataset_path=dataset_path or Path(cfg.data).resolve(),
        export_path=export_path,
        np_workers=np_workers,
        provenance={"run": run_id},
    )
