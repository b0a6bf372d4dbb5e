"""``recipelab analyze``, ``apply`` and ``export``: a dataset's stats, a recipe applied to a dataset, a run's
final recipe as a Data-Juicer config.

The jobs (read, compute cached stats, write files) live in `recipelab.analyze`, `recipelab.apply` and
`recipelab.agent.runs.export_run`; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from recipelab.cli._common import JsonOpt, OnErrorOpt, WorkspaceOpt, err, fail, out, print_json, say, split_csv

if TYPE_CHECKING:
    from recipelab.data.reader import OnError


def analyze(
    data: Annotated[Path, typer.Argument(help="Dataset: JSONL, Parquet, or a folder of image+txt pairs.")],
    ops: Annotated[
        str | None, typer.Option("--ops", help="Comma-separated op names (default: all filters and dedups).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for describe.csv, histograms, heatmap.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for image ops.")] = 2,
    on_error: OnErrorOpt = "skip",
    executor: Annotated[
        str,
        typer.Option("--executor", help="local (processes on this machine) or ray (filters as Ray Data map_batches)."),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address", help="With --executor ray: auto, ray://HOST:PORT or HOST:PORT (default: a local Ray)."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute (or load cached) stats of every op and describe their distributions."""
    from recipelab.analyze import analyze_to_folder
    from recipelab.operators.registry import UnknownOperatorError
    from recipelab.workspace import Workspace

    if executor not in ("local", "ray"):
        fail(f"--executor {executor!r}: local or ray")
    ws = Workspace.open(workspace)
    if executor == "ray":
        _stats_on_ray(ws, data, split_csv(ops), cast("OnError", on_error), ray_address, as_json)
    try:
        rep = analyze_to_folder(
            ws, data, split_csv(ops), out_dir, workers=workers, on_error=cast("OnError", on_error), quiet=as_json
        )
    except (UnknownOperatorError, ValueError) as e:
        fail(str(e))
    if as_json:
        print_json(rep.to_dict())
        return
    t = Table(
        title=f"{data} — {rep.samples} samples ({rep.rejected} rejected), stats in {rep.seconds:.1f}s "
        f"(cache {rep.cache_hits} hit / {rep.cache_misses} computed)"
    )
    cols = ("mean", "std", "q05", "q25", "q50", "q75", "q95")
    t.add_column("stat")
    for c in ("count", *cols):
        t.add_column(c, justify="right")
    for stat, row in rep.analysis.describe.iterrows():
        t.add_row(str(stat), str(row["count"]), *[f"{row.get(c, float('nan')):.4g}" for c in cols])
    out.print(t)
    for name, n in rep.analysis.duplicates.items():
        say(f"{name}: {n} duplicate(s) would be removed from the whole pool")
    say(f"wrote {rep.out_dir}/describe.csv, stats.csv and {len(rep.plots)} plot(s)", markup=False)


def _stats_on_ray(
    ws: Any, data: Path, ops: list[str] | None, on_error: Any, address: str | None, as_json: bool
) -> None:
    """The ops' stats as Ray Data map_batches into the workspace's cache (same keys as the local path), so
    the analysis that follows only reads them."""
    from recipelab.analyze import default_analysis_ops
    from recipelab.executors.ray_stats import warm_stats_cache_ray
    from recipelab.operators.registry import UnknownOperatorError, create_op

    try:
        op_list = [create_op(n) for n in ops] if ops else default_analysis_ops()
        ds = ws.read(data, on_error=on_error, quiet=as_json)
        computed, cached = warm_stats_cache_ray(op_list, ds.samples, ds.fingerprint, ws.stats_cache(), address=address)
    except (UnknownOperatorError, ValueError) as e:
        fail(str(e).strip("'\""))
    if not as_json:
        err.print(f"stats on Ray Data: {computed} op(s) computed, {cached} cached", highlight=False)


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
    from recipelab.apply import apply_to_file
    from recipelab.workspace import Workspace

    ws = Workspace.open(workspace)
    try:
        rep = apply_to_file(
            ws, recipe, data, out_path, export_stats, workers=workers, on_error=cast("OnError", on_error), quiet=as_json
        )
    except ValueError as e:  # RecipeError, DataError
        fail(str(e))
    if as_json:
        print_json(rep.to_dict())
        return
    _print_removed(rep.removed, rep.total, rep.kept, f"{recipe.name} on {data.name}")
    say(f"wrote {rep.kept} samples to {out_path}", markup=False)


def export(
    run_id: Annotated[str, typer.Argument(help="A finished run ('latest' for the newest search).")],
    out_path: Annotated[Path, typer.Option("--out", help="Config file to write.")] = Path("recipe.yaml"),
    fmt: Annotated[str, typer.Option("--format", help="Output format: dj (a Data-Juicer config).")] = "dj",
    dataset_path: Annotated[
        str | None, typer.Option("--dataset-path", help="Data-Juicer dataset_path (default: the run's pool).")
    ] = None,
    export_path: Annotated[str | None, typer.Option("--export-path", help="Data-Juicer export_path.")] = None,
    np_workers: Annotated[int | None, typer.Option("--np", help="Data-Juicer np (processes).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a run's final recipe as a config that Data-Juicer's dj-process runs unchanged."""
    from recipelab.agent.runs import export_run
    from recipelab.cli._common import open_workspace

    if fmt != "dj":
        fail(f"--format: unknown format {fmt!r}; known: dj")
    o = open_workspace(workspace, run=run_id)
    try:
        res = export_run(
            o.ws, o.mem, o.run_id, out_path, dataset_path=dataset_path, export_path=export_path, np_workers=np_workers
        )
    except ValueError as e:  # no final recipe, unreadable pool, bad --np
        fail(str(e))
    if as_json:
        print_json(
            {
                "run_id": o.run_id,
                "config": str(res.config_path),
                "dj_ops": res.dj_ops,
                "left_out": [{k: v for k, v in lo.as_json().items() if k != "kept_ids"} for lo in res.left_out],
                "side_file": str(res.side_path) if res.side_path else None,
                "complete": res.complete,
                "notes": res.notes,
            }
        )
        return
    say(res.summary(), markup=False)
