"""``recipelab bench make|calibrate|score``: the built-in noisy benchmark, whether it can tell recipes
apart, and how much of the no-filter-to-oracle gap a run closed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recipelab.cli._common import JsonOpt, TaskOpt, WorkspaceOpt, fail, open_workspace, out, print_json, say

bench_app = typer.Typer(help="The built-in noisy benchmark.", no_args_is_help=True)


@bench_app.command("make")
def bench_make(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the benchmark into.")],
    size: Annotated[
        int | None, typer.Option("--size", help="Pool size (default: the scenario's, 10000 for 'default').")
    ] = None,
    eval_size: Annotated[int, typer.Option("--eval-size")] = 1000,
    test_size: Annotated[int, typer.Option("--test-size")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    image_size: Annotated[int, typer.Option("--image-size")] = 64,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", help="Named noise mix (recipelab.data.benchmark.SCENARIOS); an unknown name lists them."
        ),
    ] = "default",
    as_json: JsonOpt = False,
) -> None:
    """Write the built-in noisy benchmark: pool, clean eval/test, truth, README."""
    from recipelab.data.benchmark import make_benchmark

    t0 = time.perf_counter()
    try:
        info = make_benchmark(
            out_dir, size=size, n_eval=eval_size, n_test=test_size, seed=seed, image_size=image_size, scenario=scenario
        )
    except ValueError as e:
        fail(str(e))
    secs = time.perf_counter() - t0
    if as_json:
        print_json({**info.model_dump(mode="json"), "seconds": secs})
        return
    t = Table(title=f"benchmark '{info.scenario}' in {out_dir} ({secs:.1f}s)")
    t.add_column("family")
    t.add_column("samples", justify="right")
    for k, v in info.counts.items():
        t.add_row(k, str(v))
    for k, v in info.trap_counts.items():
        t.add_row(f"clean trap: {k}", str(v))
    out.print(t)
    say(
        f"pool {info.size} ({info.corrupted_fraction:.0%} corrupted), eval {info.n_eval}, test {info.n_test}: "
        f"{out_dir}/pool.jsonl, eval.jsonl, test.jsonl, truth.jsonl",
        markup=False,
    )


@bench_app.command("calibrate")
def bench_calibrate(
    bench_dir: Annotated[Path, typer.Argument(help="A folder written by `recipelab bench make`.")],
    seeds: Annotated[int, typer.Option("--seeds")] = 3,
    steps: Annotated[int | None, typer.Option("--steps", help="Training steps per probe.")] = None,
    train_size: Annotated[int | None, typer.Option("--train-size")] = None,
    task: TaskOpt = "clip",
    probe: Annotated[
        str | None,
        typer.Option(
            "--probe",
            help='Probe settings as JSON, e.g. \'{"lr": 0.003, "primary_metric": "attr_acc"}\' (any ProbeSpec field).',
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """No-filter vs oracle vs random-subset probes over seeds, on eval and test."""
    from recipelab.calibrate import CONDITIONS, calibrate
    from recipelab.trainers.base import ProbeError

    if not (bench_dir / "truth.jsonl").exists():  # before minutes of data loading
        fail(f"{bench_dir}: no truth.jsonl (make one with `recipelab bench make --out {bench_dir}`)")
    overrides = _probe_overrides(probe)
    ws = open_workspace(workspace).ws
    try:
        cal = calibrate(
            bench_dir,
            ws.cache_dir,
            seeds=seeds,
            steps=steps,
            train_size=train_size,
            quiet=as_json,
            task=task or "clip",
            overrides=overrides,
        )
    except (ValueError, ProbeError) as e:  # DataError, UnknownTaskError, LeakageError, a pool too small to train
        fail(str(e))
    if as_json:
        print_json(cal.to_dict())
        return
    t = Table(title=f"calibration: {seeds} seeds, {cal.train_size} training samples per probe")
    for c in ("pool", "eval (mean ± std)", "test (mean ± std)"):
        t.add_column(c)
    for c in CONDITIONS:
        t.add_row(c, *[f"{cal.stat(c, s)[0]:.4f} ± {cal.stat(c, s)[1]:.4f}" for s in ("eval", "test")])
    out.print(t)
    per = cal.per_metric("test")
    if len(per) > 1:
        m = Table(title="every metric, test split (signed: lower-is-better metrics separate with a negative ratio)")
        for c in ("metric", "no filter", "oracle", "gap / seed std", "paired gap / sd"):
            m.add_column(c)
        for name, v in per.items():
            mark = " (primary)" if name == cal.primary_metric else ""
            m.add_row(
                name + mark,
                f"{v['no_filter']:.4f}",
                f"{v['oracle']:.4f}",
                f"{v['gap_over_std']:+.1f}",
                f"{v['paired_gap_over_sd']:+.1f}",
            )
        out.print(m)
    r = cal.ratio("test")
    ok = "[green]OK[/green]" if r >= 5 else "[red]too small[/red]"
    say(
        f"(oracle - no filter) / larger seed std on test: {r:.1f} ({ok}; needs >= 5); "
        f"median probe {cal.to_dict()['median_probe_s']:.1f}s"
    )


def _probe_overrides(text: str | None) -> dict[str, Any] | None:
    """``--probe`` JSON -> ProbeSpec overrides, checked against the spec's fields before any heavy work."""
    import json

    from pydantic import ValidationError

    from recipelab.trainers.base import ProbeSpec

    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"--probe: not JSON ({e})")
    if not isinstance(value, dict):
        fail("--probe: expected a JSON object of ProbeSpec fields")
    try:
        ProbeSpec(**value)
    except ValidationError as e:
        err = e.errors()[0]
        fail(f"--probe: field {'.'.join(str(x) for x in err['loc'])}: {err['msg']}")
    return value


@bench_app.command("score")
def bench_score(
    run_id: Annotated[str, typer.Argument(help="A finished run on the built-in benchmark ('latest' for the newest).")],
    bench_dir: Annotated[Path, typer.Argument(help="The benchmark folder (holds truth.jsonl).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Gap closed on the test split: (final - no filter) / (oracle - no filter); also written to the run's
    bench_score.json and log."""
    from recipelab.calibrate import score_run
    from recipelab.trainers.base import ProbeError

    o = open_workspace(workspace, run=run_id)
    try:
        res = score_run(o.ws, o.mem, o.run_id, bench_dir, quiet=as_json)
    except (ValueError, ProbeError) as e:  # no test result, no truth.jsonl, an oracle pool too small to train
        fail(str(e))
    if as_json:
        print_json(res)
        return
    say(
        f"test {res['final']:.4f} vs no filter {res['no_filter']:.4f} vs oracle {res['oracle']:.4f} "
        f"({res['seeds']} seeds): [bold]gap closed {res['gap_closed']:.2f}[/bold]"
    )
