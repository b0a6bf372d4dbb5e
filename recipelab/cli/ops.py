"""``recipelab ops list|show``: the operator registry, as a table or JSON (built by `recipelab.describe`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from recipelab.cli._common import JsonOpt, fail, out, print_json

ops_app = typer.Typer(help="List and describe the operators.", no_args_is_help=True)


@ops_app.command("list")
def ops_list(as_json: JsonOpt = False) -> None:
    """List every registered operator."""
    from recipelab.describe import all_op_infos

    infos = all_op_infos()
    if as_json:
        print_json(infos)
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
def ops_show(
    name: Annotated[str, typer.Argument(help="Operator name (Data-Juicer's).")], as_json: JsonOpt = False
) -> None:
    """Show one operator: params with defaults, stats key, meaning."""
    from recipelab.describe import op_info
    from recipelab.operators.registry import UnknownOperatorError

    try:
        info = op_info(name)
    except UnknownOperatorError as e:
        fail(str(e))
    if as_json:
        print_json(info)
        return
    out.print(
        f"[bold]{info['name']}[/bold]  ({info['kind']}, {info['modality']})"
        + ("  [dim]new op[/dim]" if info["new_op"] else "")
    )
    if info["doc"]:
        out.print(info["doc"], highlight=False)
    if "stats_keys" in info:
        out.print(f"stats key(s): {', '.join(info['stats_keys'])}")
        for th in info["thresholds"]:
            side = "lower" if th["side"] == "min" else "upper"
            out.print(f"  {th['param']}: {side} bound on {th['stat_key']} (closed)")
    if "hash_key" in info:
        out.print(f"hash key: {info['hash_key']}")
    t = Table(title="params")
    for c in ("param", "type", "default", "changes stats"):
        t.add_column(c)
    for p, f in info["params"].items():
        t.add_row(p, f["type"], repr(f["default"]), "yes" if p in info["stat_params"] else "")
    out.print(t)
