"""How a running search shows itself (a live panel, plain progress lines, or nothing) and how its
outcome is printed: the presentation half of ``recipelab search``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from recipelab.cli._common import err, say

if TYPE_CHECKING:
    from rich.live import Live
    from rich.panel import Panel

    from recipelab.agent.endgame import Outcome
    from recipelab.agent.loop import SearchLoop


class ProgressView:
    """How a running search shows itself: a live panel on a terminal, one plain line per finished probe
    when stderr is a pipe or a file (logs, CI), nothing under ``--json``. Given to the loop as its
    ``on_update`` before the loop exists; the live panel is attached while `showing` is entered."""

    def __init__(self, mode: Literal["live", "lines", "none"]) -> None:
        self.mode = mode
        self.live: Live | None = None
        self._last_used = -1

    def __call__(self, loop: SearchLoop) -> None:
        if self.mode == "live" and self.live is not None:
            self.live.update(_live_panel(loop))
        elif self.mode == "lines":
            self._line(loop)

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        if self.mode != "live":
            yield
            return
        from rich.live import Live

        with Live(console=err, refresh_per_second=2, transient=True) as live:
            self.live = live
            try:
                yield
            finally:
                self.live = None

    def _line(self, loop: SearchLoop) -> None:
        from recipelab.agent import analysis

        st = loop.state()
        if st.used == self._last_used:
            return
        self._last_used = st.used
        best = analysis.best_so_far(st)
        b = f" best {best[0].mean:.4f}" if best else ""
        err.print(f"[dim]probes {st.used}/{st.budget_probes}{b} — {loop.hypothesis}[/dim]", highlight=False)


def _live_panel(loop: SearchLoop) -> Panel:
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


def print_outcome(outcome: Outcome, ws_flag: str) -> None:
    s = outcome.summary
    best = s.get("best")
    say(
        f"[bold]run {outcome.run_id}[/bold]: {outcome.status} — {s.get('reason')}; "
        f"{s.get('probes')} probes in {s.get('elapsed_s', 0) / 60:.1f} min"
    )
    if not best:
        say("[red]no probe finished; nothing to choose[/red]")
        return
    base = s.get("baseline") or {}
    lo, hi = best["eval_ci90"]
    say(f"best recipe: {best['description']}", markup=False)
    say(
        f"  eval {best['eval_mean']:.4f} (90% CI {lo:.4f}..{hi:.4f}, {best['seeds']} seeds); "
        f"no filter {base.get('eval_mean', float('nan')):.4f}; keeps {best['kept']} of {best['pool']}"
    )
    t = s.get("test")
    if t and t.get("final", {}).get("mean") is not None:
        say(
            f"  test {t['final']['mean']:.4f} vs no filter {t['baseline']['mean']:.4f} "
            f"(gain {t.get('gain', 0):+.4f}, {t['final']['seeds']} seeds)"
        )
    say(f"recipe: {s['best_recipe']} (Data-Juicer config, runs in dj-process as it is)", markup=False)
    exp = s.get("export") or {}
    if exp.get("left_out"):
        names = ", ".join(lo["op"] for lo in exp["left_out"])
        say(f"        left out of it: {names} (kept ids in {exp.get('side_file')})", markup=False)
    if s.get("best_recipe_full"):
        say(f"        whole recipe: {s['best_recipe_full']} (recipelab apply)", markup=False)
    say(f"logs:   recipelab logs {outcome.run_id}{ws_flag}", markup=False)
