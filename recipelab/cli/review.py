"""Looking back at runs: ``runs``, ``experiments``, ``chat``, ``logs``, ``report``.

``latest`` (the default run of chat, logs and report) is the newest *search* run: an ad-hoc
``recipelab probe`` is a run too, but never what a user means by "the run" (`recipelab.agent.runs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recipelab.cli._common import JsonOpt, RunArg, WorkspaceOpt, fail, open_workspace, out, print_json, say, split_csv


def runs(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List the runs in the memory (searches and ad-hoc probes), newest first."""
    from recipelab.agent.runs import run_rows

    rows = run_rows(open_workspace(workspace).mem)
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"{len(rows)} run(s)")
    t.add_column("run", no_wrap=True, min_width=16)  # ids are what a user copies: never cut
    for c in ("kind", "status", "created", "strategy", "probes", "best eval"):
        t.add_column(c)
    for r in rows:
        cfg, summ = r.get("config") or {}, r.get("summary") or {}
        best = (summ.get("best") or {}).get("eval_mean")
        t.add_row(
            r["id"],
            r["kind"],
            r["status"],
            r["created_at"][:19],
            cfg.get("strategy", "") if r["kind"] == "search" else "",
            f"{r['probes_used']}/{(r.get('budget') or {}).get('probes', '')}",
            f"{best:.4f}" if best is not None else "",
        )
    out.print(t)


def experiments(
    run: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List probes (experiments) with their recipe, metric and status."""
    from recipelab.describe import recipe_description

    rows = open_workspace(workspace).mem.experiments(run)
    if as_json:
        print_json([{k: v for k, v in r.items() if k != "recipe_yaml"} for r in rows])
        return
    t = Table(title=f"{len(rows)} experiment(s)")
    t.add_column("id")
    t.add_column("run", no_wrap=True, min_width=16)
    for c in ("purpose", "status", "seed", "kept", "metric", "recipe"):
        t.add_column(c)
    for r in rows:
        v = r.get("primary_value")
        t.add_row(
            str(r["id"]),
            r["run_id"],
            r.get("purpose") or "",
            r["status"],
            str(r.get("seed")),
            str(r.get("kept_size") or ""),
            f"{v:.4f}" if v is not None else (r.get("error") or "")[:40],
            recipe_description(r.get("recipe"))[:70],
        )
    out.print(t)


def chat(
    run_id: RunArg = None,
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

    o = open_workspace(workspace, run=run_id)
    llm = None if no_llm else LLMConfig(base_url=llm_base_url, model=llm_model)
    try:
        session = ChatSession(o.mem, o.run_id, llm)
    except ToolError as e:
        fail(str(e))
    if message is not None:
        reply = session.handle(message)
        if as_json:
            print_json({"run_id": o.run_id, "message": message, "reply": reply})
        else:
            out.print(reply, highlight=False, markup=False)
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    ps: PromptSession = PromptSession(history=FileHistory(str(o.ws.chat_history_path)))
    mode = "LLM agent" if session.llm else "slash commands (no LLM configured)"
    out.print(f"chat with run [bold]{o.run_id}[/bold] — {mode}; /help for commands, Ctrl-D to leave")
    for m in o.mem.messages(o.run_id, limit=6):
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


_STYLE = {"plan": "cyan", "decision": "bold green", "error": "red", "directive": "magenta", "llm": "yellow"}


def _event_line(e: dict[str, Any]) -> str:
    line = f"{e['ts'][11:19]} {e['kind']:<9} {e['message']}"
    p = e.get("payload") or {}
    if e["kind"] == "llm" and isinstance(p, dict) and p.get("total_tokens"):
        tin, tout, cost = p.get("input_tokens", 0), p.get("output_tokens", 0), p.get("cost_usd", 0)
        line += f"  [{tin} in / {tout} out, ${cost:.4f}]"
    return line


def logs(
    run_id: RunArg = None,
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
    import time

    from recipelab.memory import EVENT_KINDS

    kinds = split_csv(kind)
    bad = [k for k in kinds or [] if k not in EVENT_KINDS]
    if bad:
        fail(f"--kind: unknown kind(s) {', '.join(bad)}; known: {', '.join(EVENT_KINDS)}")
    o = open_workspace(workspace, run=run_id)
    collected: list[dict[str, Any]] = []
    last = None
    while True:
        evs = o.mem.events(o.run_id, kinds=kinds, after_id=last)
        for e in evs:
            last = e["id"]
            if as_json:
                collected.append(e)
            else:
                out.print(_event_line(e), style=_STYLE.get(e["kind"]), highlight=False, markup=False, soft_wrap=True)
        if not follow:
            break
        status = (o.mem.get_run(o.run_id) or {}).get("status")
        if status in ("done", "failed", "stopped", "interrupted") and not evs:
            break
        try:
            time.sleep(1.0)
        except KeyboardInterrupt:
            break
    if as_json:
        print_json({"run_id": o.run_id, "events": collected})


def report(
    run_id: RunArg = None,
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One self-contained HTML report of a run, with plots, and the command that opens its Optuna studies."""
    from recipelab.report import write_report
    from recipelab.report.data import dashboard_command, optuna_storage_url

    o = open_workspace(workspace, run=run_id)
    path = write_report(o.ws, o.mem, o.run_id, out_path)
    dashboard = dashboard_command(o.ws)  # the password of an RDB URL hidden
    if as_json:
        print_json({"run_id": o.run_id, "report": str(path), "optuna_storage": optuna_storage_url(o.ws)})
    else:
        say(f"wrote {path}", markup=False)
        say(f"Optuna dashboard: {dashboard}", markup=False)
