"""The `recipelab` command line: thin parsing and printing over the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from recipelab.data.reader import DataError
from recipelab.recipes import RecipeError

app = typer.Typer(
    help="recipelab: find the data recipe that makes your model best (Probe-Analyze-Refine).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
ops_app = typer.Typer(help="List and describe the operators.", no_args_is_help=True)
bench_app = typer.Typer(help="The built-in noisy benchmark.", no_args_is_help=True)
app.add_typer(ops_app, name="ops")
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="RECIPELAB_WORKSPACE", help="Workspace folder (default ./.recipelab)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
OnErrorOpt = Annotated[str, typer.Option("--on-error", help="skip (count, list, go on) or fail (stop at first).")]


def fail(msg: str, code: int = 2) -> None:
    err.print("[red]error:[/red] ", end="")
    err.print(msg, highlight=False, markup=False, soft_wrap=True)  # one line, never re-wrapped
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default, allow_nan=False) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean_floats(obj: Any) -> Any:
    """NaN/inf are not JSON: replace with None so --json output always parses."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_floats(v) for v in obj]
    return obj


def _check_on_error(v: str) -> str:
    if v not in ("skip", "fail"):
        fail(f"--on-error must be skip or fail, not {v!r}")
    return v


# ============================================================================ ops


def _op_info(name: str) -> dict[str, Any]:
    from recipelab.operators.registry import get_op_class

    cls = get_op_class(name)
    fields = {}
    for fname, f in cls.Params.model_fields.items():
        default = f.get_default(call_default_factory=True)
        fields[fname] = {
            "type": getattr(f.annotation, "__name__", str(f.annotation)),
            "default": default,
            "description": f.description or "",
        }
    info: dict[str, Any] = {
        "name": cls.name,
        "kind": cls.kind,
        "modality": cls.modality,
        "summary": cls.summary,
        "new_op": cls.new_op,
        "params": fields,
        "stat_params": list(cls.stat_params),
        "doc": (cls.__doc__ or "").strip(),
    }
    if cls.kind == "filter":
        info["stats_keys"] = list(cls.stats_keys)  # type: ignore[attr-defined]
        info["thresholds"] = [
            {"param": t.param, "stat_key": t.stat_key, "side": t.side}
            for t in cls.thresholds  # type: ignore[attr-defined]
        ]
    elif cls.kind == "deduplicator":
        info["hash_key"] = cls.hash_key  # type: ignore[attr-defined]
    return info


@ops_app.command("list")
def ops_list(as_json: JsonOpt = False) -> None:
    """List every registered operator."""
    from recipelab.operators.registry import all_ops

    infos = [_op_info(n) for n in all_ops()]
    if as_json:
        print_json(_clean_floats(infos))
        return
    t = Table(title=f"{len(infos)} operators")
    for c in ("name", "kind", "stats key", "summary"):
        t.add_column(c)
    for i in infos:
        key = ", ".join(i.get("stats_keys", [])) or i.get("hash_key", "")
        name = i["name"] + (" [dim](new)[/dim]" if i["new_op"] else "")
        t.add_row(name, i["kind"], key, i["summary"])
    out.print(t)


@ops_app.command("show")
def ops_show(name: str, as_json: JsonOpt = False) -> None:
    """Show one operator: params with defaults, stats key, meaning."""
    from recipelab.operators.registry import UnknownOperatorError

    try:
        info = _op_info(name)
    except UnknownOperatorError as e:
        fail(str(e))
        return
    if as_json:
        print_json(_clean_floats(info))
        return
    out.print(
        f"[bold]{info['name']}[/bold]  ({info['kind']}, {info['modality']})"
        + ("  [dim]new op[/dim]" if info["new_op"] else "")
    )
    if info["doc"]:
        out.print(info["doc"], highlight=False)
    if "stats_keys" in info:
        out.print(f"stats key(s): {', '.join(info['stats_keys'])}")
        for t in info["thresholds"]:
            out.print(f"  {t['param']}: {'lower' if t['side'] == 'min' else 'upper'} bound on {t['stat_key']} (closed)")
    if "hash_key" in info:
        out.print(f"hash key: {info['hash_key']}")
    t = Table(title="params")
    for c in ("param", "type", "default", "changes stats"):
        t.add_column(c)
    for p, f in info["params"].items():
        t.add_row(p, f["type"], repr(f["default"]), "yes" if p in info["stat_params"] else "")
    out.print(t)


# ============================================================================ analyze / apply


@app.command()
def analyze(
    data: Annotated[Path, typer.Argument(help="Dataset: JSONL, Parquet, or a folder of image+txt pairs.")],
    ops: Annotated[
        str | None, typer.Option("--ops", help="Comma-separated op names (default: all filters and dedups).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for describe.csv, histograms, heatmap.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for image ops.")] = 2,
    on_error: OnErrorOpt = "skip",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute (or load cached) stats of every op and describe their distributions."""
    import time

    from recipelab.analyze import analyze_dataset, default_analysis_ops, write_plots
    from recipelab.operators.registry import UnknownOperatorError, create_op
    from recipelab.workspace import Workspace

    ws = Workspace.open(workspace)
    try:
        op_list = [create_op(n.strip()) for n in ops.split(",") if n.strip()] if ops else default_analysis_ops()
    except UnknownOperatorError as e:
        fail(str(e))
        return
    try:
        ds = ws.read(data, on_error=_check_on_error(on_error), quiet=as_json)
    except DataError as e:
        fail(str(e))
        return
    cache = ws.stats_cache()
    t0 = time.perf_counter()
    an = analyze_dataset(ds, op_list, cache, workers=workers, quiet=as_json)
    secs = time.perf_counter() - t0
    out_dir = out_dir or (ws.root / "analysis" / ds.fingerprint[:12])
    out_dir.mkdir(parents=True, exist_ok=True)
    an.describe.to_csv(out_dir / "describe.csv")
    an.table.to_csv(out_dir / "stats.csv")
    plots = write_plots(an, out_dir)
    if as_json:
        print_json(
            _clean_floats(
                {
                    "data": str(data),
                    "samples": len(ds),
                    "rejected": len(ds.rejects),
                    "fingerprint": ds.fingerprint,
                    "describe": an.describe.reset_index().to_dict(orient="records"),
                    "duplicates": an.duplicates,
                    "out": str(out_dir),
                    "plots": [str(p) for p in plots],
                    "seconds": secs,
                    "cache": {"hits": cache.hits, "misses": cache.misses},
                }
            )
        )
        return
    t = Table(
        title=f"{data} — {len(ds)} samples ({len(ds.rejects)} rejected), stats in {secs:.1f}s "
        f"(cache {cache.hits} hit / {cache.misses} computed)"
    )
    for c in ("stat", "count", "mean", "std", "q05", "q25", "q50", "q75", "q95"):
        t.add_column(c, justify="right" if c != "stat" else "left")
    for stat, row in an.describe.iterrows():
        t.add_row(
            str(stat),
            str(row["count"]),
            *[f"{row.get(c, float('nan')):.4g}" for c in ("mean", "std", "q05", "q25", "q50", "q75", "q95")],
        )
    out.print(t)
    for name, n in an.duplicates.items():
        out.print(f"{name}: {n} duplicate(s) would be removed from the whole pool")
    out.print(f"wrote {out_dir}/describe.csv, stats.csv and {len(plots)} plot(s)")


def _print_removed(removed: list[tuple[str, int]], total: int, kept: int, title: str) -> None:
    t = Table(title=title)
    t.add_column("#", justify="right")
    t.add_column("op")
    t.add_column("removed", justify="right")
    t.add_column("remaining", justify="right")
    left = total
    for i, (name, n) in enumerate(removed, start=1):
        left -= n
        t.add_row(str(i), name, str(n), str(left))
    t.add_row("", "[bold]kept[/bold]", "", f"[bold]{kept}[/bold] of {total} ({100 * kept / max(total, 1):.1f}%)")
    out.print(t)


@app.command()
def apply(
    recipe: Annotated[Path, typer.Argument(help="Data-Juicer recipe YAML.")],
    data: Annotated[Path, typer.Argument(help="Dataset to filter.")],
    out_path: Annotated[Path, typer.Option("--out", help="Output JSONL of the kept samples.")],
    export_stats: Annotated[
        bool, typer.Option("--export-stats", help="Write each sample's stats under __dj__stats__.")
    ] = False,
    workers: Annotated[int, typer.Option("--workers")] = 2,
    on_error: OnErrorOpt = "skip",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply a recipe: write the kept samples and print how many each op removed."""
    from recipelab.apply import apply_recipe_to_dataset
    from recipelab.data.writer import write_jsonl
    from recipelab.recipes import Recipe
    from recipelab.workspace import Workspace

    ws = Workspace.open(workspace)
    try:
        rec = Recipe.load(recipe)
        ds = ws.read(data, on_error=_check_on_error(on_error), quiet=as_json)
    except (RecipeError, DataError) as e:
        fail(str(e))
        return
    res = apply_recipe_to_dataset(rec, ds, ws.stats_cache(), workers=workers, quiet=as_json, with_stats=export_stats)
    n = write_jsonl(res.kept_samples, out_path, stats=res.sample_stats if export_stats else None)
    if as_json:
        print_json(
            {
                "recipe": str(recipe),
                "data": str(data),
                "out": str(out_path),
                "total": len(ds),
                "kept": n,
                "removed": [{"op": a, "removed": b} for a, b in res.result.removed],
                "apply_ms": res.result.seconds * 1000,
            }
        )
        return
    _print_removed(res.result.removed, len(ds), n, f"{recipe.name} on {data.name}")
    out.print(f"wrote {n} samples to {out_path}")


# ============================================================================ search


def _open_memory(workspace: Path | None):  # noqa: ANN202
    from recipelab.memory import Memory
    from recipelab.workspace import Workspace

    ws = Workspace.open(workspace)
    return ws, Memory(ws.memory_path)


def _live_panel(loop) -> Any:  # noqa: ANN001
    from rich.panel import Panel

    from recipelab.agent import analysis

    st = loop.state()
    lines = [
        f"run [bold]{loop.run_id}[/bold]   probes {st.used}/{st.budget_probes}   "
        f"elapsed {loop.elapsed_s() / 60:.1f} min"
    ]
    best = analysis.best_so_far(st)
    if best is not None:
        c, lo, hi = best
        lines.append(f"best so far: {c.mean:.4f} (90% CI {lo:.4f}..{hi:.4f}, {c.n} seed(s)) — {c.description}")
    base = analysis.baseline(st)
    if base is not None:
        lines.append(f"baseline (no filter): {base.mean:.4f} over {base.n} seed(s)")
    if loop.hypothesis:
        lines.append(f"now testing: {loop.hypothesis}")
    return Panel("\n".join(lines), title="recipelab search", expand=False)


@app.command()
def search(
    data: Annotated[str | None, typer.Option("--data", help="Pool to search over (JSONL/Parquet/folder).")] = None,
    eval_path: Annotated[str | None, typer.Option("--eval", help="Clean split that scores probes.")] = None,
    test: Annotated[str | None, typer.Option("--test", help="Clean split for the final report only.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Probe task (clip).")] = None,
    budget_probes: Annotated[int | None, typer.Option("--budget-probes", help="Probes to spend (default 24).")] = None,
    budget_minutes: Annotated[float | None, typer.Option("--budget-minutes", help="Wall-time budget.")] = None,
    budget_tokens: Annotated[int | None, typer.Option("--budget-tokens", help="LLM token budget.")] = None,
    planner: Annotated[str | None, typer.Option("--planner", help="auto | stat | llm")] = None,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="agent | random | optuna | dj-sandbox | k-sigma")
    ] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Probes at once (local processes).")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Training steps per probe.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Training batch size per probe.")] = None,
    train_size: Annotated[int | None, typer.Option("--train-size", help="Samples per probe (default pool/3).")] = None,
    test_seeds: Annotated[int | None, typer.Option("--test-seeds", help="Seeds for the final test scoring.")] = None,
    ops: Annotated[str | None, typer.Option("--ops", help="Comma-separated candidate ops.")] = None,
    llm_base_url: Annotated[str | None, typer.Option("--llm-base-url", help="OpenAI-compatible endpoint.")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML file with any of these settings.")] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue the run with this id.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search autonomously for the best recipe within a budget (resumable)."""
    from rich.live import Live

    from recipelab.agent.loop import SearchLoop
    from recipelab.config import ConfigError, build_search_config, load_config_file

    ws, mem = _open_memory(workspace)
    if resume:
        try:
            loop = SearchLoop.resume(ws, mem, resume, quiet=as_json)
        except (KeyError, RuntimeError) as e:
            fail(str(e.args[0] if isinstance(e, KeyError) else e))
            return
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
            "seed": seed,
            "probe.steps": steps,
            "probe.batch_size": batch_size,
            "probe.train_size": train_size,
            "test_seeds": test_seeds,
            "ops": [o.strip() for o in ops.split(",") if o.strip()] if ops else None,
            "llm.base_url": llm_base_url,
            "llm.model": llm_model,
        }
        try:
            cfg = build_search_config(load_config_file(config), overrides, source=str(config or "flags"))
        except ConfigError as e:
            fail(str(e))
            return
        if not cfg.data or not cfg.eval:
            fail("--data and --eval are required (or --resume RUN_ID)")
        loop = SearchLoop.create(ws, mem, cfg, quiet=as_json)
    # The run id comes first (stdout, or stderr under --json so stdout stays one JSON document).
    (err if as_json else out).print(f"run id: {loop.run_id}  (workspace {ws.root})", highlight=False)
    try:
        if as_json or not err.is_terminal:
            loop.on_update = (lambda lp: None) if as_json else _plain_progress
            outcome = loop.run()
        else:
            with Live(console=err, refresh_per_second=2, transient=True) as live:
                loop.on_update = lambda lp: live.update(_live_panel(lp))
                outcome = loop.run()
    except KeyboardInterrupt:
        mem.set_run_status(loop.run_id, "interrupted")
        mem.mark_interrupted(loop.run_id)
        mem.log_event(loop.run_id, "info", "interrupted by the user (Ctrl-C)")
        err.print(
            f"\n[yellow]interrupted.[/yellow] resume with: recipelab search --resume {loop.run_id}"
            + (f" --workspace {ws.root}" if workspace else ""),
            highlight=False,
        )
        raise typer.Exit(130) from None
    except (DataError, RecipeError, ValueError) as e:
        mem.set_run_status(loop.run_id, "failed")
        mem.log_event(loop.run_id, "error", f"run failed: {e}")
        fail(str(e))
        return
    finally:
        loop.close()
    summary = outcome.summary
    if as_json:
        print_json(
            _clean_floats(
                {"run_id": outcome.run_id, "status": outcome.status, "run_dir": str(outcome.run_dir), **summary}
            )
        )
        return
    _print_outcome(outcome, ws.root if workspace else None)


def _plain_progress(loop) -> None:  # noqa: ANN001
    """One line per finished probe when stderr is not a terminal (logs, CI, pipes)."""
    from recipelab.agent import analysis

    st = loop.state()
    if getattr(loop, "_last_printed", None) == st.used:
        return
    loop._last_printed = st.used
    best = analysis.best_so_far(st)
    b = f" best {best[0].mean:.4f}" if best else ""
    err.print(f"[dim]probes {st.used}/{st.budget_probes}{b} — {loop.hypothesis}[/dim]", highlight=False)


def _print_outcome(outcome, ws_root) -> None:  # noqa: ANN001
    s = outcome.summary
    best = s.get("best")
    out.print(
        f"[bold]run {outcome.run_id}[/bold]: {outcome.status} — {s.get('reason')}; "
        f"{s.get('probes')} probes in {s.get('elapsed_s', 0) / 60:.1f} min"
    )
    if not best:
        out.print("[red]no probe finished; nothing to choose[/red]")
        return
    base = s.get("baseline") or {}
    lo, hi = best["eval_ci90"]
    out.print(f"best recipe: {best['description']}")
    out.print(
        f"  eval {best['eval_mean']:.4f} (90% CI {lo:.4f}..{hi:.4f}, {best['seeds']} seeds); "
        f"no filter {base.get('eval_mean', float('nan')):.4f}; keeps {best['kept']} of {best['pool']}"
    )
    t = s.get("test")
    if t and t.get("final", {}).get("mean") is not None:
        out.print(
            f"  test {t['final']['mean']:.4f} vs no filter {t['baseline']['mean']:.4f} "
            f"(gain {t.get('gain', 0):+.4f}, {t['final']['seeds']} seeds)"
        )
    out.print(f"recipe: {s['best_recipe']}")
    w = f" --workspace {ws_root}" if ws_root else ""
    out.print(f"logs:   recipelab logs {outcome.run_id}{w}")


# ============================================================================ runs / experiments


@app.command()
def runs(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs in the memory."""
    _, mem = _open_memory(workspace)
    rows = mem.list_runs()
    if as_json:
        print_json(_clean_floats(rows))
        return
    t = Table(title=f"{len(rows)} run(s)")
    for c in ("run", "status", "created", "strategy", "probes", "best eval"):
        t.add_column(c)
    for r in rows:
        cfg, summ = r.get("config") or {}, r.get("summary") or {}
        best = (summ.get("best") or {}).get("eval_mean")
        n = len([e for e in mem.experiments(r["id"]) if not (e.get("purpose") or "").startswith("test:")])
        t.add_row(
            r["id"],
            r["status"],
            r["created_at"][:19],
            cfg.get("strategy", ""),
            f"{n}/{(r.get('budget') or {}).get('probes', '')}",
            f"{best:.4f}" if best is not None else "",
        )
    out.print(t)


@app.command()
def experiments(
    run: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List probes (experiments) with their recipe, metric and status."""
    _, mem = _open_memory(workspace)
    rows = mem.experiments(run)
    if as_json:
        for r in rows:
            r.pop("recipe_yaml", None)
        print_json(_clean_floats(rows))
        return
    t = Table(title=f"{len(rows)} experiment(s)")
    for c in ("id", "run", "purpose", "status", "seed", "kept", "metric", "recipe"):
        t.add_column(c)
    from recipelab.recipes import Recipe

    for r in rows:
        try:
            desc = Recipe.from_dj(r.get("recipe") or {}).describe()
        except (RecipeError, ValueError):
            desc = "?"
        v = r.get("primary_value")
        t.add_row(
            str(r["id"]),
            r["run_id"],
            r.get("purpose") or "",
            r["status"],
            str(r.get("seed")),
            str(r.get("kept_size") or ""),
            f"{v:.4f}" if v is not None else (r.get("error") or "")[:40],
            desc[:70],
        )
    out.print(t)


# ============================================================================ bench


@bench_app.command("make")
def bench_make(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the benchmark into.")],
    size: Annotated[int, typer.Option("--size", help="Pool size.")] = 10000,
    eval_size: Annotated[int, typer.Option("--eval-size")] = 1000,
    test_size: Annotated[int, typer.Option("--test-size")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    image_size: Annotated[int, typer.Option("--image-size")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """Write the built-in noisy benchmark: pool, clean eval/test, truth, README."""
    import time

    from recipelab.data.benchmark import make_benchmark

    t0 = time.perf_counter()
    try:
        info = make_benchmark(out_dir, size=size, n_eval=eval_size, n_test=test_size, seed=seed, image_size=image_size)
    except ValueError as e:
        fail(str(e))
        return
    secs = time.perf_counter() - t0
    if as_json:
        print_json({**info.model_dump(mode="json"), "seconds": secs})
        return
    t = Table(title=f"benchmark in {out_dir} ({secs:.1f}s)")
    t.add_column("family")
    t.add_column("samples", justify="right")
    for k, v in info.counts.items():
        t.add_row(k, str(v))
    for k, v in info.trap_counts.items():
        t.add_row(f"clean trap: {k}", str(v))
    out.print(t)
    out.print(
        f"pool {info.size} ({info.corrupted_fraction:.0%} corrupted), eval {info.n_eval}, test {info.n_test}: "
        f"{out_dir}/pool.jsonl, eval.jsonl, test.jsonl, truth.jsonl"
    )


@bench_app.command("calibrate")
def bench_calibrate(
    bench_dir: Annotated[Path, typer.Argument(help="A folder written by `recipelab bench make`.")],
    seeds: Annotated[int, typer.Option("--seeds")] = 3,
    steps: Annotated[int | None, typer.Option("--steps", help="Training steps per probe.")] = None,
    train_size: Annotated[int | None, typer.Option("--train-size")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """No-filter vs oracle vs random-subset probes over seeds, on eval and test."""
    from recipelab.calibrate import CONDITIONS, calibrate
    from recipelab.workspace import Workspace

    if not (bench_dir / "truth.jsonl").exists():
        fail(f"{bench_dir}: no truth.jsonl (make one with `recipelab bench make --out {bench_dir}`)")
    ws = Workspace.open(workspace)
    cal = calibrate(bench_dir, ws.cache_dir, seeds=seeds, steps=steps, train_size=train_size, quiet=as_json)
    if as_json:
        print_json(_clean_floats(cal.to_dict()))
        return
    t = Table(title=f"calibration: {seeds} seeds, {cal.train_size} training samples per probe")
    for c in ("pool", "eval (mean ± std)", "test (mean ± std)"):
        t.add_column(c)
    for c in CONDITIONS:
        t.add_row(c, *[f"{cal.stat(c, s)[0]:.4f} ± {cal.stat(c, s)[1]:.4f}" for s in ("eval", "test")])
    out.print(t)
    r = cal.ratio("test")
    ok = "[green]OK[/green]" if r >= 5 else "[red]too small[/red]"
    out.print(
        f"(oracle - no filter) / larger seed std on test: {r:.1f} ({ok}; needs >= 5); "
        f"median probe {cal.to_dict()['median_probe_s']:.1f}s"
    )


@bench_app.command("score")
def bench_score(
    run_id: Annotated[str, typer.Argument(help="A finished run on the built-in benchmark ('latest' for the newest).")],
    bench_dir: Annotated[Path, typer.Argument(help="The benchmark folder (holds truth.jsonl).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Gap closed on the test split: (final - no filter) / (oracle - no filter)."""
    import json as _json

    from recipelab.calibrate import score_run

    ws, mem = _open_memory(workspace)
    if run_id == "latest":
        run_id = _latest_run(mem) or ""
    run = mem.get_run(run_id)
    if run is None:
        fail(f"no run {run_id!r}; see `recipelab runs`")
        return
    if not (bench_dir / "truth.jsonl").exists():
        fail(f"{bench_dir}: no truth.jsonl")
    try:
        res = score_run(run, bench_dir, ws.cache_dir, quiet=as_json)
    except ValueError as e:
        fail(str(e))
        return
    (ws.runs_dir / run_id / "bench_score.json").write_text(_json.dumps(res, indent=2))
    mem.log_event(run_id, "info", f"benchmark score: gap closed {res['gap_closed']:.2f}", res)
    if as_json:
        print_json(_clean_floats(res))
        return
    out.print(
        f"test {res['final']:.4f} vs no filter {res['no_filter']:.4f} vs oracle {res['oracle']:.4f} "
        f"({res['seeds']} seeds): [bold]gap closed {res['gap_closed']:.2f}[/bold]"
    )


# ============================================================================ probe


@app.command()
def probe(
    recipe: Annotated[Path, typer.Option("--recipe", help="Data-Juicer recipe YAML.")],
    data: Annotated[str, typer.Option("--data", help="Pool.")],
    eval_path: Annotated[str, typer.Option("--eval", help="Clean eval split.")],
    task: Annotated[str, typer.Option("--task")] = "clip",
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
    """Apply a recipe, train one probe, evaluate, store the result."""
    from recipelab.agent.loop import SearchLoop
    from recipelab.agent.plan import OpChoice, ParamValue
    from recipelab.config import ConfigError, build_search_config
    from recipelab.recipes import Recipe

    try:
        rec = Recipe.load(recipe)
        cfg = build_search_config(
            {},
            {
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
            },
        )
    except (RecipeError, ConfigError) as e:
        fail(str(e))
        return
    ws, mem = _open_memory(workspace)
    choices = [
        OpChoice(
            op=o.name,
            params=[
                ParamValue(name=k, value=v)
                for k, v in o.params.model_dump(mode="json").items()
                if v is not None and isinstance(v, (int, float, str, bool))
            ],
        )
        for o in rec.build_ops()
    ]
    loop = SearchLoop.create(ws, mem, cfg, quiet=as_json)
    try:
        mem.set_run_status(loop.run_id, "running")
        loop.prepare(ops=[o.name for o in rec.process])
        ids = [i for i in loop.submit([(choices, seed, "probe")], step=1) if i is not None]
    except (DataError, RecipeError, ValueError) as e:
        mem.set_run_status(loop.run_id, "failed")
        fail(str(e))
        return
    finally:
        loop.close()
    exp = mem.get_experiment(ids[0]) if ids else None
    mem.set_run_status(loop.run_id, "done" if exp and exp["status"] == "done" else "failed")
    if exp is None:
        fail("the recipe could not be probed (see `recipelab logs`)")
        return
    res = exp.get("result") or {}
    if as_json:
        print_json(
            _clean_floats(
                {
                    "run_id": loop.run_id,
                    "experiment": exp["id"],
                    "status": exp["status"],
                    "error": exp.get("error"),
                    "kept": exp.get("kept_size"),
                    "metrics": exp.get("metrics"),
                    "result": res,
                    "cache_hit": exp.get("cached_from") is not None,
                }
            )
        )
        return
    if exp["status"] != "done":
        out.print(f"[red]probe failed:[/red] {exp.get('error')}")
        raise typer.Exit(1)
    t = Table(
        title=f"probe #{exp['id']} (run {loop.run_id}) — kept {exp.get('kept_size')} of {len(loop.env.pool)}"
        + (" — cached result" if exp.get("cached_from") else "")
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in sorted((exp.get("metrics") or {}).items()):
        t.add_row(k, f"{v:.4f}" if isinstance(v, (int, float)) and v is not None else str(v))
    out.print(t)
    if res:
        out.print(
            f"train {res.get('train_size')} samples ({'undersized' if res.get('undersized') else 'full size'}), "
            f"{res.get('wall_time_s', 0):.1f}s on {res.get('device')}"
        )


# ============================================================================ chat / logs / report


def _latest_run(mem) -> str | None:  # noqa: ANN001
    rows = mem.list_runs(limit=1)
    return rows[0]["id"] if rows else None


@app.command()
def chat(
    run_id: Annotated[str | None, typer.Argument(help="Run to talk about (default: the latest).")] = None,
    message: Annotated[str | None, typer.Option("-m", "--message", help="Answer one message and exit.")] = None,
    llm_base_url: Annotated[str | None, typer.Option("--llm-base-url")] = None,
    llm_model: Annotated[str | None, typer.Option("--llm-model")] = None,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Slash commands only, even if an LLM is configured.")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Steer a run (also one running in another process) by chat or slash commands."""
    from recipelab.agent.chat import ChatSession
    from recipelab.agent.chat_tools import ToolError
    from recipelab.config import LLMConfig

    _, mem = _open_memory(workspace)
    run_id = run_id or _latest_run(mem)
    if run_id is None:
        fail("no run in this workspace yet; start one with `recipelab search`")
        return
    llm = None if no_llm else LLMConfig(base_url=llm_base_url, model=llm_model)
    try:
        session = ChatSession(mem, run_id, llm)
    except ToolError as e:
        fail(str(e))
        return
    if message is not None:
        reply = session.handle(message)
        if as_json:
            print_json({"run_id": run_id, "message": message, "reply": reply})
        else:
            out.print(reply, highlight=False, markup=False)
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    from recipelab.workspace import Workspace

    hist = Workspace.open(workspace).root / "chat_history.txt"
    ps: PromptSession = PromptSession(history=FileHistory(str(hist)))
    mode = "LLM agent" if session.llm else "slash commands (no LLM configured)"
    out.print(f"chat with run [bold]{run_id}[/bold] — {mode}; /help for commands, Ctrl-D to leave")
    for m in mem.messages(run_id, limit=6):
        out.print(f"[dim]{m['role']}: {m['content'][:200]}[/dim]", highlight=False)
    while True:
        try:
            text = ps.prompt("you> ")
        except (EOFError, KeyboardInterrupt):
            break
        if text.strip() in ("/quit", "/exit"):
            break
        reply = session.handle(text)
        if reply:
            out.print(reply, highlight=False, markup=False)


def _event_line(e: dict) -> str:
    return f"{e['ts'][11:19]} {e['kind']:<9} {e['message']}"


@app.command()
def logs(
    run_id: Annotated[str | None, typer.Argument(help="Run (default: the latest).")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until the run ends.")
    ] = False,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Comma-separated: plan,llm,probe,directive,error,decision,info,tool")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The run's timeline: plans with rationale, probes, LLM calls with tokens and cost, directives, errors."""
    import time as _time

    _, mem = _open_memory(workspace)
    run_id = run_id or _latest_run(mem)
    if run_id is None or mem.get_run(run_id) is None:
        fail(f"no run {run_id!r}; see `recipelab runs`")
        return
    kinds = [k.strip() for k in kind.split(",") if k.strip()] if kind else None
    from recipelab.memory import EVENT_KINDS

    bad = [k for k in kinds or [] if k not in EVENT_KINDS]
    if bad:
        fail(f"--kind: unknown kind(s) {', '.join(bad)}; known: {', '.join(EVENT_KINDS)}")
    collected: list[dict] = []
    last = None
    style = {"plan": "cyan", "decision": "bold green", "error": "red", "directive": "magenta", "llm": "yellow"}
    while True:
        evs = mem.events(run_id, kinds=kinds, after_id=last)
        for e in evs:
            last = e["id"]
            if as_json:
                collected.append(e)
            else:
                s = style.get(e["kind"])
                line = _event_line(e)
                p = e.get("payload") or {}
                if e["kind"] == "llm" and p.get("total_tokens"):
                    tin, tout, cost = p.get("input_tokens", 0), p.get("output_tokens", 0), p.get("cost_usd", 0)
                    line += f"  [{tin} in / {tout} out, ${cost:.4f}]"
                out.print(line, style=s, highlight=False, markup=False, soft_wrap=True)
        if not follow:
            break
        status = (mem.get_run(run_id) or {}).get("status")
        if status in ("done", "failed", "stopped", "interrupted") and not evs:
            break
        try:
            _time.sleep(1.0)
        except KeyboardInterrupt:
            break
    if as_json:
        print_json(_clean_floats({"run_id": run_id, "events": collected}))


@app.command()
def report(
    run_id: Annotated[str | None, typer.Argument(help="Run (default: the latest).")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One self-contained HTML report of a run, with plots."""
    from recipelab.report import write_report
    from recipelab.workspace import Workspace

    ws, mem = _open_memory(workspace)
    run_id = run_id or _latest_run(mem)
    if run_id is None or mem.get_run(run_id) is None:
        fail(f"no run {run_id!r}; see `recipelab runs`")
        return
    path = write_report(Workspace.open(workspace), mem, run_id, out_path)
    if as_json:
        print_json({"run_id": run_id, "report": str(path)})
    else:
        out.print(f"wrote {path}")
        out.print(f"Optuna dashboard: optuna-dashboard sqlite:///{(ws.root / 'optuna.sqlite').resolve()}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
