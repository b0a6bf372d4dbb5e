"""``recipelab transfer``: the scale-up transfer check of a run (does the probe-scale order of its recipes
hold on more data and a wider model?). Thin: parse, call `recipelab.agent.transfer.transfer_run`, print.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from recipelab.cli._common import JsonOpt, RunArg, WorkspaceOpt, err, fail, open_workspace, out, print_json, say


def transfer(
    run_id: RunArg = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Recipes besides the baseline, in the run's ranking.")] = 4,
    data_scale: Annotated[
        float,
        typer.Option("--data-scale", help="Train size and steps times this (capped at what a recipe keeps)."),
    ] = 4.0,
    model_scale: Annotated[
        float, typer.Option("--model-scale", help="Model width times this (1: the probe's model).")
    ] = 2.0,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds per recipe at scale.")] = 3,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-run the baseline and the run's top recipes at a larger scale; report whether their order holds.

    Decision accuracy: the share of recipe pairs that the scale-up orders as the probes did (all pairs,
    and the pairs whose probe-scale 90% intervals do not overlap); Spearman: the rank correlation of the
    means. Intervals: bootstrap over the scale-up seeds. Interrupted, it resumes: finished probes are reused.
    """
    from recipelab.agent.transfer import transfer_run

    o = open_workspace(workspace, run=run_id)
    if not as_json:
        err.print(f"transfer check of run {o.run_id} (finished probes are reused)", highlight=False)
    try:
        doc = transfer_run(
            o.ws, o.mem, o.run_id, top=top, data_scale=data_scale, model_scale=model_scale, seeds=seeds, quiet=as_json
        )
    except KeyboardInterrupt:
        ws_flag = f" --workspace {o.ws.root}" if workspace else ""
        err.print(
            f"\n[yellow]interrupted.[/yellow] its finished probes are kept; resume with: "
            f"recipelab transfer {o.run_id}{ws_flag}",
            highlight=False,
        )
        raise typer.Exit(130) from None
    except ValueError as e:  # TransferError, DataError, ...
        fail(" ".join(str(e).split()))
    if as_json:
        print_json(doc)
        return
    print_transfer(doc)


def _num(x: Any, nd: int = 4) -> str:
    return "—" if x is None else f"{x:.{nd}f}"


def _stat(s: dict[str, Any]) -> str:
    if s.get("value") is None:
        return "n/a"
    ci = s.get("ci90")
    return f"{s['value']:.2f}" + (f" (90% CI {ci[0]:.2f}..{ci[1]:.2f})" if ci else "")


def print_transfer(doc: dict[str, Any]) -> None:
    """The check as a table (one row per recipe) and its verdict lines."""
    sc = doc["scale"]
    t = Table(title=f"transfer check of run {doc['run_id']}")
    for name, right in (("rank", True), ("recipe", False), ("kept", True), ("train size", True),
                        ("probe scale (90% CI, seeds)", True), ("at scale (seeds)", True)):  # fmt: skip
        t.add_column(name, justify="right" if right else "left")
    for r in doc["recipes"]:
        ci = r.get("probe_ci90")
        vals = [v for v in r["scale_values"] if v is not None]
        t.add_row(
            str(r["rank"]),
            f"{r['label']} [{r.get('source_purpose')}]" if r.get("source_purpose") else r["label"],
            str(r["kept"]),
            f"{r['train_size']}" + (" (capped)" if r["capped"] else ""),
            f"{_num(r['probe_mean'])}" + (f" ({ci[0]:.4f}..{ci[1]:.4f}, {r['probe_seeds']})" if ci else ""),
            f"{_num(r['scale_mean'])} ({len(vals)})",
        )
    out.print(t)
    width = ", ".join(f"{k} {a}->{b}" for k, (a, b) in sc["width"].items()) or "the probe's model"
    say(
        f"scale: train size {sc['probe_train_size']} -> {sc['train_size']} (x{sc['data_scale']:g}), steps "
        f"{sc['probe_steps']} -> {sc['steps']}, model width x{sc['model_scale']:g} ({width}), {doc['seeds']} seed(s)",
        markup=False,
    )
    capped = [r for r in doc["recipes"] if r["capped"]]
    if capped:
        say(
            "train size capped at what the recipe keeps: "
            + ", ".join(f"rank {r['rank']} ({r['kept']} kept < {sc['train_size']})" for r in capped),
            markup=False,
        )
    acc = doc["decision_accuracy"]
    say(
        f"decision accuracy: {_stat(acc['all'])} over {acc['all']['n_pairs']} pair(s); beyond the noise "
        f"(probe intervals apart): {_stat(acc['separated'])} over {acc['separated']['n_pairs']} pair(s)",
        markup=False,
    )
    say(f"Spearman (probe-scale vs scale-up means): {_stat(doc['spearman'])} over {doc['spearman']['n']} recipe(s)")
    p = doc["probes"]
    say(f"probes: {p['total']} ({p['new']} new, {p['cache_hits']} cache hit(s), {p['failed']} failed)")
