"""``recipelab search`` (the autonomous loop, with its live view) and ``recipelab probe`` (one recipe, one probe).

The loop itself does its bookkeeping (a Ctrl-C marks the run interrupted and resumable, bad input marks
it failed); this module builds the configuration from flags, shows progress and prints the outcome.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recipelab.cli._common import (
    JsonOpt,
    TaskOpt,
    WorkspaceOpt,
    err,
    fail,
    open_workspace,
    out,
    print_json,
    say,
    split_csv,
    warn,
)
from recipelab.cli._progress import ProgressView, print_outcome

# ============================================================================ search


def search(
    data: Annotated[str | None, typer.Option("--data", help="Pool to search over (JSONL/Parquet/folder).")] = None,
    eval_path: Annotated[str | None, typer.Option("--eval", help="Clean split that scores probes.")] = None,
    test: Annotated[str | None, typer.Option("--test", help="Clean split for the final report only.")] = None,
    task: TaskOpt = None,
    budget_probes: Annotated[int | None, typer.Option("--budget-probes", help="Probes to spend (default 24).")] = None,
    budget_minutes: Annotated[float | None, typer.Option("--budget-minutes", help="Wall-time budget.")] = None,
    budget_tokens: Annotated[int | None, typer.Option("--budget-tokens", help="LLM token budget.")] = None,
    planner: Annotated[str | None, typer.Option("--planner", help="auto | stat | llm")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="agent | random | optuna | dj-sandbox | k-sigma")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Probes at once (local processes, or Ray actors).")
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            help="Where probes run: local (default) or ray (Ray actors; the stats as Ray Data map_batches). "
            "A resumed run keeps its own.",
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="With --executor ray: auto, ray://HOST:PORT or HOST:PORT (default: a local Ray)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Training steps per probe.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Training batch size per probe.")] = None,
    train_size: Annotated[int | None, typer.Option("--train-size", help="Samples per probe (default pool/3).")] = None,
    test_seeds: Annotated[int | None, typer.Option("--test-seeds", help="Seeds for the final test scoring.")] = None,
    ops: Annotated[str | None, typer.Option("--ops", help="Comma-separated candidate ops.")] = None,
    on_leak: Annotated[
        str | None,
        typer.Option(
            "--on-leak",
            help="Pool rows whose image is byte-identical to an eval/test image: drop (default; a warning "
            "counts them and the run records them) or fail (refuse such a pool).",
        ),
    ] = None,
    optuna_storage: Annotated[
        str | None,
        typer.Option(
            "--optuna-storage",
            help="Optuna storage URL, any RDB URL (default: env RECIPELAB_OPTUNA_STORAGE, else the workspace's "
            "optuna.sqlite). A resumed run keeps its own.",
        ),
    ] = None,
    warm_start: Annotated[
        str | None,
        typer.Option(
            "--warm-start",
            help="auto (default: start from the newest earlier run on this pool, or on a pool whose op stats "
            "look alike), off, or a run id. Its best recipes are re-measured first; its screen effects order "
            "the screens.",
        ),
    ] = None,
    surrogate: Annotated[
        bool | None,
        typer.Option(
            "--surrogate/--no-surrogate",
            help="The agent's threshold search alternates TPE with a Gaussian-process surrogate's picks (default on).",
        ),
    ] = None,
    multi_fidelity: Annotated[
        bool | None,
        typer.Option(
            "--multi-fidelity/--single-fidelity",
            help="The agent screens with successive halving (probes stopped at 1/4 and 1/2 of their steps, the best "
            "resumed to full length) and prunes its threshold search; the budget counts full-probe equivalents "
            "(clip task; default single).",
        ),
    ] = None,
    transfer_check: Annotated[
        bool,
        typer.Option(
            "--transfer-check",
            help="After the search, re-run the baseline and the top recipes at a larger scale and report whether "
            "their order holds (recipelab transfer with its defaults; probes beyond the budget).",
        ),
    ] = False,
    llm_base_url: Annotated[str | None, typer.Option("--llm-base-url", help="OpenAI-compatible endpoint.")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file with any of these settings.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue the run with this id ('latest').")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search autonomously for the best recipe within a budget (resumable)."""
    from recipelab.agent.loop import SearchLoop, start_run
    from recipelab.config import build_search_config, load_config_file

    view = ProgressView("none" if as_json else ("live" if err.is_terminal else "lines"))
    kw: dict[str, Any] = {"quiet": as_json, "console": err, "on_update": view}
    if resume:
        from recipelab.agent.loop import resume_config

        if optuna_storage:
            warn("--optuna-storage is ignored with --resume: a run keeps the storage it was started with")
        if executor:
            warn("--executor is ignored with --resume: a run keeps the executor it was started with")
        o = open_workspace(workspace, run=resume)
        try:
            kw["executor"] = _make_ray_executor(o, o.run_id, resume_config(o.mem, o.run_id), ray_address)
            loop = SearchLoop.resume(o.ws, o.mem, o.run_id, **kw)
        except (KeyError, ValueError) as e:
            _close(kw.get("executor"))
            fail(str(e).strip("'\""))
        _say_run_id(loop.run_id, o.ws.root, as_json)
    else:
        overrides = {
            "data": data,
            "eval": eval_path,
            "test": test,
            "task": task,
            "budget_probes": budget_probes,
            "budget_minutes": budget_minutes,
            "budget_tokens": budget_tokens,
            "planner": planner,
            "strategy": strategy,
            "workers": workers,
            "executor": executor,
            "ray_address": ray_address,
            "seed": seed,
            "probe.steps": steps,
            "probe.batch_size": batch_size,
            "probe.train_size": train_size,
            "test_seeds": test_seeds,
            "ops": split_csv(ops),
            "on_leak": on_leak,
            "optuna_storage": optuna_storage,
            "warm_start": warm_start,
            "surrogate": surrogate,
            "multi_fidelity": multi_fidelity,
            "transfer_check": transfer_check or None,
            "llm.base_url": llm_base_url,
            "llm.model": llm_model,
        }
        try:
            file_data = load_config_file(config)
            if not (data or file_data.get("data")) or not (eval_path or file_data.get("eval")):
                fail("--data and --eval are required (or --resume RUN_ID)")
            cfg = build_search_config(file_data, overrides, source=str(config or "flags"))
        except ValueError as e:  # ConfigError
            fail(str(e))
        o = open_workspace(workspace, optuna_storage=cfg.optuna_storage)
        try:
            ensure_optuna_storage(o.ws.optuna_storage)
        except Exception as e:  # noqa: BLE001 - an unreachable database, a bad URL: one line, before the run
            fail(f"--optuna-storage: cannot open {_redacted(o.ws.optuna_storage)}: {' '.join(str(e).split())[:300]}")
        if cfg.warm_start not in ("auto", "off") and o.mem.get_run(cfg.warm_start) is None:
            fail(f"--warm-start {cfg.warm_start}: no run by that id in {o.ws.root}; see `recipelab runs`")
        run_id = start_run(o.mem, cfg)
        _say_run_id(run_id, o.ws.root, as_json)
        try:
            kw["executor"] = _make_ray_executor(o, run_id, cfg, None)
        except ValueError as e:  # no Ray, or an unreachable cluster: this run never started
            o.mem.set_run_status(run_id, "failed")
            o.mem.log_event(run_id, "error", f"run failed: {e}")
            fail(str(e))
        try:
            loop = SearchLoop.build(o.ws, o.mem, run_id, cfg, **kw)
        except ValueError as e:  # unreadable data, --on-leak fail, ...: build() marked the run failed
            _close(kw.get("executor"))
            fail(str(e))
    ws_flag = f" --workspace {o.ws.root}" if workspace else ""
    try:
        with view.showing():
            if loop.cfg.executor == "ray":
                _stats_on_ray(loop, quiet=as_json)
            outcome = loop.run()
            if loop.cfg.transfer_check and outcome.status == "done":
                _transfer_check(loop, outcome, ws_flag)
    except KeyboardInterrupt:
        err.print(
            f"\n[yellow]interrupted.[/yellow] resume with: recipelab search --resume {loop.run_id}{ws_flag}",
            highlight=False,
        )
        raise typer.Exit(130) from None
    except ValueError as e:  # DataError, RecipeError, ...: the loop marked the run failed
        fail(str(e))
    finally:
        loop.close()
    if as_json:
        print_json({"run_id": outcome.run_id, "status": outcome.status, "run_dir": outcome.run_dir, **outcome.summary})
        return
    print_outcome(outcome, ws_flag)
    if outcome.summary.get("transfer"):
        from recipelab.agent.transfer import describe

        say(describe(outcome.summary["transfer"]), markup=False)


def _transfer_check(loop: Any, outcome: Any, ws_flag: str) -> None:
    """``--transfer-check``: the check on the finished run (its summary gains ``transfer``). A Ctrl-C here
    leaves the search done and the check resumable with ``recipelab transfer``."""
    from recipelab.agent.transfer import transfer_after_search

    try:
        doc = transfer_after_search(loop)
    except KeyboardInterrupt:
        err.print(
            f"\n[yellow]transfer check interrupted[/yellow] (the search is done); resume it with: "
            f"recipelab transfer {loop.run_id}{ws_flag}",
            highlight=False,
        )
        raise typer.Exit(130) from None
    if doc is not None:
        outcome.summary["transfer"] = doc


def ensure_optuna_storage(url: str) -> None:
    """Create the Optuna schema in a shared database before any study is opened there.

    Several drivers started together on a fresh PostgreSQL database would otherwise race to create it, and
    the loser stops on a duplicate ``CREATE TYPE``; the loser of this race retries and finds the schema
    there. The workspace's own SQLite file is left to Optuna (one driver)."""
    if url.startswith("sqlite"):
        return
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(3):
        try:
            optuna.storages.RDBStorage(url)
            return
        except (IntegrityError, ProgrammingError):
            if attempt == 2:
                raise
            time.sleep(0.5)


def _redacted(url: str) -> str:
    from recipelab.report.data import redact_url

    return redact_url(url)


def _make_ray_executor(o: Any, run_id: str, cfg: Any, address: str | None) -> Any:
    """The Ray executor of a run whose configuration says ``executor: ray`` (None otherwise: the loop
    builds its local executor). Every retry after a dead worker goes into the run's log."""
    if cfg.executor != "ray":
        return None
    from recipelab.executors import ProbeEnvConfig, make_executor
    from recipelab.executors.base import ProbeJob

    def on_retry(job: ProbeJob, reason: str) -> None:
        o.mem.log_event(
            run_id,
            "error",
            f"#{job.key}: Ray worker died mid-probe ({reason}); probe retried once",
            {"experiment": job.key, "retry": reason},
        )

    env_config = ProbeEnvConfig.for_run(cfg, o.ws, run_id)
    return make_executor(env_config, cfg.workers, kind="ray", ray_address=address or cfg.ray_address, on_retry=on_retry)


def _close(executor: Any) -> None:
    if executor is not None:
        executor.close()


def _stats_on_ray(loop: Any, quiet: bool) -> None:
    """The candidate ops' stats as Ray Data map_batches, into the workspace's cache under the same keys, so
    the loop's own stats step (`PoolSpace`) only reads them. A Ctrl-C here leaves the run resumable."""
    from recipelab.agent.space import DEFAULT_EXCLUDE
    from recipelab.executors.ray_stats import warm_stats_cache_ray
    from recipelab.operators.registry import all_ops, create_op, get_op_class

    names = [n for n in (loop.cfg.ops or all_ops()) if get_op_class(n).kind != "mapper"]
    names = [n for n in names if n not in loop.cfg.exclude_ops and n not in DEFAULT_EXCLUDE]
    pool = loop.env.pool
    try:
        computed, cached = warm_stats_cache_ray(
            [create_op(n) for n in names], pool.samples, pool.fingerprint, loop.ws.stats_cache(), quiet=True
        )
    except KeyboardInterrupt:
        loop.mem.set_run_status(loop.run_id, "interrupted")
        raise
    msg = f"stats on Ray Data: {computed} op(s) computed, {cached} cached"
    loop.mem.log_event(loop.run_id, "info", msg, {"ray_stats": {"computed": computed, "cached": cached}})
    if not quiet:
        err.print(msg, highlight=False)


def _say_run_id(run_id: str, root: Path, as_json: bool) -> None:
    """The run id comes first, before any slow set-up (on stderr under --json: stdout stays one document)."""
    (err if as_json else out).print(f"run id: {run_id}  (workspace {root})", highlight=False, soft_wrap=True)


# ============================================================================ probe


def probe(
    recipe: Annotated[Path, typer.Option("--recipe", help="Data-Juicer recipe YAML.")],
    data: Annotated[str, typer.Option("--data", help="Pool.")],
    eval_path: Annotated[str, typer.Option("--eval", help="Clean eval split.")],
    task: TaskOpt = "clip",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    steps: Annotated[int | None, typer.Option("--steps")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size")] = None,
    image_size: Annotated[
        int | None, typer.Option("--image-size", help="Probe image side in pixels (default 32).")
    ] = None,
    train_size: Annotated[int | None, typer.Option("--train-size", help="Samples per probe (default pool/3).")] = None,
    checkpoint: Annotated[str | None, typer.Option("--checkpoint", help="Local CLIP checkpoint folder.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply a recipe, train one probe, evaluate, store the result (an ad-hoc run, never 'latest').

    The headline is named: ``primary_metric`` (clip: ``mean_recall``, the mean of image->text and
    text->image recall@1 and recall@5, four numbers) and ``primary_value``; ``--json`` prints each metric
    once, under ``metrics``.
    """
    from recipelab.agent.runs import probe_recipe
    from recipelab.config import build_search_config
    from recipelab.describe import metric_meaning, probe_document

    overrides = {
        "data": data,
        "eval": eval_path,
        "task": task,
        "budget_probes": 1,
        "seed": 0,
        "probe.steps": steps,
        "probe.batch_size": batch_size,
        "probe.image_size": image_size,
        "probe.train_size": train_size,
        "probe.checkpoint": checkpoint,
        "strategy": "agent",
        "planner": "stat",
    }
    try:
        cfg = build_search_config({}, overrides, source="flags")
    except ValueError as e:  # ConfigError
        fail(str(e))
    o = open_workspace(workspace)
    try:
        run_id, exp, pool_size = probe_recipe(o.ws, o.mem, cfg, recipe, seed=seed, quiet=as_json, console=err)
    except ValueError as e:  # RecipeError, DataError, LeakageError: the run is marked failed
        fail(str(e))
    if exp is None:
        fail("the recipe could not be probed (see `recipelab logs`)")
    doc = probe_document(run_id, exp, pool_size)
    if as_json:
        print_json(doc)
        return
    if doc["status"] != "done":
        err.print(f"[red]probe failed:[/red] {doc['error']}", highlight=False)
        raise typer.Exit(1)
    t = Table(
        title=f"probe #{doc['experiment']} (run {run_id}) — kept {doc['kept']} of {pool_size}"
        + (" — cached result" if doc["cache_hit"] else "")
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("meaning")
    for k, v in sorted(doc["metrics"].items()):
        primary = k == doc["primary_metric"]
        t.add_row(
            f"[bold]{k}[/bold] (primary)" if primary else k,
            f"{v:.4f}" if isinstance(v, (int, float)) else str(v),
            metric_meaning(k),
            style="bold" if primary else None,
        )
    out.print(t)
    res = doc["result"]
    if res:
        say(
            f"train {res.get('train_size')} samples ({'undersized' if res.get('undersized') else 'full size'}), "
            f"{res.get('wall_time_s', 0):.1f}s on {res.get('device')}"
        )
