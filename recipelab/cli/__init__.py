"""The ``recipelab`` command line: a typer app, one module per command group, each thin (parse, call one
library function, print).

- `ops`: ``ops list``, ``ops show``            - `data`: ``analyze``, ``apply``
- `search`: ``search`` (+ live view), ``probe`` - `review`: ``runs``, ``experiments``, ``chat``, ``logs``, ``report``
- `bench`: ``bench make``, ``bench calibrate``, ``bench score``
- `transfer`: ``transfer`` (the scale-up transfer check of a run)
- `_common`: consoles, one-line errors, JSON output, shared options, opening a workspace and a run.

Library modules are imported inside the commands, so ``recipelab --help`` and ``ops list`` start without
torch.
"""

from __future__ import annotations

import typer

from recipelab.cli import bench, data, ops, review, search, transfer

app = typer.Typer(
    help="recipelab: find the data recipe that makes your model best (Probe-Analyze-Refine).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ops.ops_app, name="ops")
app.command("analyze")(data.analyze)
app.command("apply")(data.apply)
app.command("export")(data.export)
app.command("search")(search.search)
app.command("probe")(search.probe)
app.command("runs")(review.runs)
app.command("experiments")(review.experiments)
app.command("chat")(review.chat)
app.command("logs")(review.logs)
app.command("report")(review.report)
app.command("transfer")(transfer.transfer)
app.add_typer(bench.bench_app, name="bench")

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    """Entry point of ``python -m recipelab``."""
    app()
