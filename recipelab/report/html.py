"""One self-contained HTML report of a run: what the search did, what it found, and why.

The page has no script, no external resource and a Content-Security-Policy that forbids both, so it
opens anywhere (mail attachment, ``file://``, an offline machine). Plots are inline PNG data URIs.

Every piece of text that comes from the memory, the data or an LLM (captions, purposes, rationales,
notes, replies, recipe YAML, error messages) goes through :func:`esc` (``html.escape``); HTML is only
ever built from this module's own literals. Each section is rendered on its own: one that fails
shows its (escaped) error and the rest of the report is still written.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recipelab.agent import analysis
from recipelab.agent.state import load_state
from recipelab.memory import Memory
from recipelab.report import data as rd
from recipelab.report import plots
from recipelab.workspace import Workspace

#: (id, title) of every section, in page order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Run"),
    ("progress", "Best so far"),
    ("effects", "Op effects"),
    ("distributions", "Final thresholds on the pool"),
    ("thresholds", "Metric vs threshold"),
    ("recipe", "Final recipe"),
    ("timeline", "Decisions"),
    ("llm", "LLM use"),
    ("reuse", "Warm start and surrogate"),
    ("fidelity", "Fidelity ladder"),
    ("transfer", "Transfer check"),
    ("optuna", "Optuna importances"),
    ("dashboard", "Optuna dashboard"),
)

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;
color:#212121;background:#fff;line-height:1.4}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;border-bottom:2px solid #e0e0e0;padding-bottom:4px;margin-top:1.6em}
h3{font-size:1em;margin:1em 0 .4em}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}
th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f7;border:1px solid #e0e0e0;padding:8px;overflow-x:auto;font-size:.85em;white-space:pre-wrap;
word-break:break-word}
img{max-width:100%;height:auto;display:block;margin:.4em 0}
.note{color:#616161;font-style:italic}.err{color:#b71c1c}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure{margin:0;flex:1 1 480px}
.kv th{width:14em}.pos{color:#2e7d32}.neg{color:#c62828}
nav a{margin-right:10px;font-size:.9em}
.ev-plan{background:#e3f2fd}.ev-decision{background:#e8f5e9}.ev-directive{background:#f3e5f5}.ev-error{background:#ffebee}
code{background:#f5f5f5;padding:1px 4px}.ts{white-space:nowrap}
"""


# ---------------------------------------------------------------------- helpers
def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(x: Any, nd: int = 4) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):
        return "–"
    return f"{v:.{nd}f}"


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(s):
        return "–"
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _when(ts: Any) -> str:
    """A stored timestamp shortened for a table cell (full value in the tooltip)."""
    s = str(ts or "")
    short = s[:19].replace("T", " ") if len(s) >= 19 else s
    return f'<span class="ts" title="{esc(s)}">{esc(short)}</span>'


def _json(value: Any, limit: int = 4000) -> str:
    s = json.dumps(value, ensure_ascii=False, default=str, indent=None)
    return esc(s if len(s) <= limit else s[:limit] + " …")


def _img(png: bytes, alt: str) -> str:
    return f'<img src="{plots.data_uri(png)}" alt="{esc(alt)}">'


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """``rows`` cells must already be escaped HTML."""
    numeric = numeric or set()
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(rows: list[tuple[str, str]]) -> str:
    """Key-value table; values must already be escaped HTML."""
    return '<table class="kv">' + "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


class _Ctx:
    """Everything the sections read, loaded once."""

    def __init__(self, ws: Workspace, memory: Memory, run_id: str) -> None:
        run = memory.get_run(run_id)
        if run is None:
            raise KeyError(f"no run {run_id!r} in {memory.path}")
        self.ws = ws
        self.mem = memory
        self.run_id = run_id
        self.run = run
        self.config: dict[str, Any] = run.get("config") or {}
        self.budget: dict[str, Any] = run.get("budget") or {}
        self.summary: dict[str, Any] = run.get("summary") or {}
        self.experiments = memory.experiments(run_id)
        self.events = memory.events(run_id)
        self.state = load_state(memory, run_id, self.experiments)
        base = (self.summary.get("baseline") or {}).get("eval_mean")
        if base is None:
            b = analysis.baseline(self.state)
            base = b.mean if b is not None else None
        self.baseline: float | None = base
        probe = next(((e.get("spec") or {}).get("probe") or {} for e in self.experiments if e.get("spec")), {})
        self.metric = str(probe.get("primary_metric") or "metric")
        self.recipe_yaml = rd.final_recipe_yaml(memory, run_id, self.summary)
        self._pool: rd.PoolView | None = None

    @property
    def pool(self) -> rd.PoolView:
        if self._pool is None:
            self._pool = rd.pool_view(self.ws, self.config, self.recipe_yaml)
        return self._pool


# ---------------------------------------------------------------------- sections
def _overview(c: _Ctx) -> str:
    s, cfg, run = c.summary, c.config, c.run
    best = s.get("best") or {}
    used = s.get("probes", c.state.used)
    budget = s.get("budget_probes", c.budget.get("probes"))
    noise = s.get("noise_sd")
    if noise is None and c.state.trials:
        noise = analysis.noise_sd(c.state)
    budget_parts = [f"{c.budget.get('probes', '–')} probes"]
    if c.budget.get("minutes"):
        budget_parts.append(f"{c.budget['minutes']} min")
    if c.budget.get("tokens"):
        budget_parts.append(f"{c.budget['tokens']} LLM tokens")
    rows = [
        ("run", f"<code>{esc(c.run_id)}</code>"),
        ("status", f"<b>{esc(run.get('status'))}</b>"),
        ("created / updated", f"{esc(run.get('created_at'))} / {esc(run.get('updated_at'))}"),
        ("pool", f"<code>{esc(cfg.get('data'))}</code>"),
        ("eval split", f"<code>{esc(cfg.get('eval'))}</code>"),
        ("test split", f"<code>{esc(cfg.get('test'))}</code>" if cfg.get("test") else "–"),
        ("task", esc(cfg.get("task"))),
        ("strategy / planner", f"{esc(cfg.get('strategy'))} / {esc(cfg.get('planner'))}"),
        ("budget", esc(", ".join(budget_parts))),
        ("ended because", esc(s.get("reason") or "(not ended)")),
        ("probes used", f"{esc(used)} / {esc(budget)}"),
        ("elapsed", esc(_duration(s.get("elapsed_s")))),
        ("seed noise sd (pooled)", esc(_num(noise))),
        ("baseline", esc(_num(c.baseline))),
    ]
    if best:
        ci = best.get("eval_ci90") or [None, None]
        rows.append(
            (
                "final recipe (eval)",
                f"{esc(_num(best.get('eval_mean')))} (90% CI {esc(_num(ci[0]))}..{esc(_num(ci[1]))}, "
                f"{esc(best.get('seeds'))} seeds; keeps {esc(best.get('kept'))} of {esc(best.get('pool'))})",
            )
        )
        if best.get("description"):
            rows.append(("final recipe", f"<code>{esc(best['description'])}</code>"))
    return _kv(rows)


def _progress(c: _Ctx) -> str:
    pts = rd.progress(c.mem, c.run_id, c.experiments)
    if not pts:
        return _note("no probes yet")
    out = _img(plots.progress_plot(pts, c.baseline, c.metric), "best so far over probes and over wall time")
    rows = []
    for e in c.experiments:
        rows.append(
            [
                esc(e["id"]),
                esc(e.get("step")),
                esc(e.get("purpose")),
                esc((e.get("spec") or {}).get("seed_index")),
                esc(e.get("kept_size")),
                esc(_num(e.get("primary_value"))),
                esc(e.get("status")) + (f' <span class="err">{esc(e.get("error"))}</span>' if e.get("error") else ""),
                esc(_num(e.get("wall_time_s"), 1)),
            ]
        )
    out += (
        f"<details><summary>all {len(rows)} probes</summary>"
        + _table(["#", "step", "purpose", "seed", "kept", c.metric, "status", "wall s"], rows, {0, 1, 3, 4, 5, 7})
        + "</details>"
    )
    return out


def _effect_table(rows: list[rd.EffectRow]) -> str:
    body = [
        [
            esc(r.label),
            f'<span class="{"pos" if r.lo > 0 else "neg" if r.hi < 0 else ""}">{esc(_num(r.mean))}</span>',
            esc(f"{_num(r.lo)} .. {_num(r.hi)}"),
            esc(r.n),
            "paired by seed" if r.paired else "difference of means",
        ]
        for r in rows
    ]
    return _table(["recipe", "effect", "90% CI", "seeds", "how"], body, {1, 3})


def _effects(c: _Ctx) -> str:
    out = ""
    for prefix, title in (("screen:", "single-op screens"), ("tertile:", "tertile pools")):
        rows = rd.effects(c.state, prefix)
        if not rows:
            continue
        out += f"<h3>{esc(title)} vs the baseline</h3>"
        out += _img(plots.effects_plot(rows, f"{title}: effect vs the no-filter baseline"), f"{title} effects")
        out += _effect_table(rows)
    return out or _note("no single-op screens (or no baseline) to estimate effects from")


def _distributions(c: _Ctx) -> str:
    pv = c.pool
    if not pv.distributions:
        return _note(pv.note or "the final recipe has no filter")
    figs = []
    for d in pv.distributions:
        cap = f"{d.op} — {d.stat_key}" + (f"; removed {d.removed}" if d.removed is not None else "")
        figs.append(f"<figure>{_img(plots.distribution_plot(d), cap)}<figcaption>{esc(cap)}</figcaption></figure>")
    out = '<div class="grid">' + "".join(figs) + "</div>"
    if pv.note:
        out += _note(pv.note)
    return out


def _thresholds(c: _Ctx) -> str:
    space = c.pool.space if c.recipe_yaml else None

    def to_q(op: str, param: str, value: float) -> float | None:
        if space is None or op not in space.entries:
            return None
        return space.value_quantile(op, param, value)

    pts = rd.threshold_points(c.experiments, to_q)
    if not pts:
        return _note("no probe set a threshold")
    return _img(plots.threshold_plot(pts, c.baseline), "metric against each threshold's quantile") + _note(
        "each dot is a probe; x is the quantile of the op's stat on the pool where the threshold sits "
        "(min-side thresholds drop what lies below, max-side ones what lies above); the dashed line is the baseline"
    )


def _recipe(c: _Ctx) -> str:
    best = c.summary.get("best") or {}
    if not c.recipe_yaml and not best:
        return _note("no final recipe yet")
    out = ""
    if c.summary.get("best_recipe"):
        out += f"<p>file: <code>{esc(c.summary['best_recipe'])}</code></p>"
    out += f"<pre>{esc(c.recipe_yaml or '(recipe YAML not found)')}</pre>"
    removed = best.get("removed") or []
    pool = best.get("pool")
    if removed:
        left = pool
        rows = []
        for r in removed:
            n = r.get("removed") or 0
            left = left - n if isinstance(left, int) else None
            rows.append([esc(r.get("op")), esc(n), esc(left if left is not None else "–")])
        out += "<h3>Samples kept, op by op</h3>"
        out += _table(["op", "removed", "remaining"], [["(pool)", "", esc(pool)], *rows], {1, 2})
    test = c.summary.get("test")
    if test:
        rows = []
        for name in ("final", "baseline"):
            t = test.get(name) or {}
            rows.append([esc(name), esc(_num(t.get("mean"))), esc(_num(t.get("std"))), esc(t.get("seeds"))])
        out += "<h3>Test split</h3>" + _table(["recipe", "mean", "sd", "seeds"], rows, {1, 2, 3})
        if test.get("gain") is not None:
            out += f"<p>gain over the baseline on the test split: <b>{esc(_num(test['gain']))}</b></p>"
    else:
        out += _note("no test-split result")
    return out


def _choices_text(ops: list[dict[str, Any]]) -> str:
    parts = []
    for ch in ops or []:
        ps = [f"{p.get('name')}={p.get('value')}" for p in ch.get("params") or []]
        ps += [f"{p.get('name')}@q{p.get('value')}" for p in ch.get("quantiles") or []]
        parts.append(f"{ch.get('op')}({', '.join(ps)})")
    return " → ".join(parts) or "(no filter)"


def _proposals(props: list[dict[str, Any]]) -> str:
    if not props:
        return ""
    rows = []
    for p in props:
        what = (
            f"search {p.get('n_trials')} trials over "
            + ", ".join(f"{d.get('op')}.{d.get('param')} in [{d.get('low_q')}, {d.get('high_q')}]" for d in p["search"])
            if p.get("kind") == "search" and p.get("search")
            else f"{p.get('seeds', 1)} seed(s)"
        )
        rows.append(
            [
                esc(p.get("purpose")),
                esc(p.get("kind")),
                esc(what),
                esc(_choices_text(p.get("ops"))),
                esc(p.get("hypothesis")),
            ]
        )
    return _table(["purpose", "kind", "what", "recipe", "hypothesis"], rows)


def _timeline(c: _Ctx) -> str:
    evs = [e for e in c.events if e.get("kind") in rd.TIMELINE_KINDS]
    if not evs:
        return _note("no plans or decisions logged yet")
    rows = []
    for e in evs:
        p = e.get("payload") if isinstance(e.get("payload"), dict) else {}
        detail = ""
        if e["kind"] == "plan":
            head = f"planner {p.get('planner', '?')}, step {p.get('step', '?')}" + (
                ", converged" if p.get("converged") else ""
            )
            detail = f'<div class="note">{esc(head)}</div>' + _proposals(p.get("proposals") or [])
        elif e["kind"] == "directive" and p:
            detail = f"<pre>{_json(p)}</pre>"
        rows.append(
            f'<tr class="ev-{esc(e["kind"])}"><td>{_when(e.get("ts"))}</td><td>{esc(e["kind"])}</td>'
            f"<td>{esc(e.get('message'))}{detail}</td></tr>"
        )
    out = (
        "<table><thead><tr><th>time (UTC)</th><th>kind</th><th>rationale / message</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    dirs = c.mem.directives(c.run_id)
    if dirs:
        drows = [
            [
                esc(d["id"]),
                _when(d.get("ts")),
                esc(d.get("source")),
                esc(d.get("kind")),
                _json(d.get("payload")),
                esc(d.get("status")),
                esc(d.get("result")),
            ]
            for d in dirs
        ]
        out += "<h3>Directives</h3>" + _table(["#", "time", "source", "kind", "payload", "status", "result"], drows)
    return out


def _llm(c: _Ctx) -> str:
    t = rd.llm_totals(c.events)
    if t.calls == 0:
        return _note("no LLM calls")
    rows = [
        ("calls", esc(f"{t.calls} ({t.failed} failed)" if t.failed else t.calls)),
        ("input tokens", esc(f"{t.input_tokens:,}")),
        ("output tokens", esc(f"{t.output_tokens:,}")),
        ("total tokens", esc(f"{t.total_tokens:,}")),
        ("cost", esc(f"${t.cost_usd:.4f}")),
        ("models", esc(", ".join(t.models) or "–")),
    ]
    calls = []
    for e in t.events:
        p = e.get("payload") if isinstance(e.get("payload"), dict) else {}
        reply = p.get("reply") or p.get("error") or ""
        reply_s = str(reply)
        if len(reply_s) > 4000:
            reply_s = reply_s[:4000] + " …"
        calls.append(
            [
                _when(e.get("ts")),
                esc(e.get("message")),
                esc(p.get("input_tokens", 0)),
                esc(p.get("output_tokens", 0)),
                esc(_num(p.get("cost_usd"))),
                f"<details><summary>reply</summary><pre>{esc(reply_s)}</pre></details>" if reply_s else "",
            ]
        )
    return _kv(rows) + _table(["time", "call", "in", "out", "cost $", "reply"], calls, {2, 3, 4})


def _optuna(c: _Ctx) -> str:
    studies = rd.optuna_studies(c.ws, c.run_id)
    if not studies:
        return _note("no Optuna study for this run (no threshold search ran); not enough trials for importances")
    out = ""
    for st in studies:
        out += f"<h3>study <code>{esc(st.name)}</code></h3>"
        out += f"<p>{esc(st.trials)} trials, {esc(st.complete)} complete</p>"
        if not st.importances:
            out += _note("not enough trials for parameter importances")
            continue
        out += _img(plots.importance_plot(st.importances, f"parameter importances: {st.name}"), "importances")
        out += _table(
            ["parameter", "importance"],
            [[esc(k), esc(_num(v, 3))] for k, v in sorted(st.importances.items(), key=lambda kv: -kv[1])],
            {1},
        )
    return out


def _reuse(c: _Ctx) -> str:
    r = rd.reuse(c.mem, c.run_id, c.events)
    out = ""
    if r.warm is None:
        how = c.config.get("warm_start", "auto")
        out += _note(f"no warm start (--warm-start {how}; no earlier run on this pool or a look-alike was used)")
    else:
        out += f"<p>{esc(r.warm_message)}</p>"
        eff = r.warm.get("effects") or {}
        if eff:
            out += _table(
                ["earlier run's screen", "its effect there"],
                [[esc(k), esc(_num(v, 4))] for k, v in sorted(eff.items(), key=lambda kv: -kv[1])],
                {1},
            )
        recs = [t for t in c.state.trials if t.purpose.startswith("warm:")]
        if recs:
            out += _table(
                ["re-measured here", "recipe", c.metric],
                [[esc(t.purpose), esc(", ".join(t.op_names)), esc(_num(t.metric))] for t in recs],
                {2},
            )
    q = r.surrogate
    if not q["n"]:
        out += _note("no surrogate predictions (no threshold search ran, too few probes to fit, or --no-surrogate)")
        return out
    out += (
        f"<p>Surrogate (Gaussian process over per-op removed shares): Spearman {esc(_num(q['spearman'], 2))} between "
        f"its predictions and the measured results over {esc(q['n'])} search trial(s), {esc(q['n_picks'])} of them "
        "its own picks.</p>"
    )
    out += _img(plots.surrogate_plot(q["pairs"]), "surrogate predictions vs measured")
    return out


def _fidelity(c: _Ctx) -> str:
    f = rd.fidelity(c.state, c.events)
    if not f.rungs:
        return _note("single-fidelity run: every probe trained its full schedule (--multi-fidelity screens with "
                     "successive halving)")  # fmt: skip
    out = (
        f"<p>Ladder {esc(' -> '.join(str(r) for r in f.rungs))} training steps; {esc(f.segments)} low-fidelity "
        f"segment(s); budget used {esc(_num(f.compute_used, 2))} full-probe equivalents. Stopped probes are compared "
        "only with probes of the same rung; the final choice uses full-length probes only.</p>"
    )
    if f.curves:
        out += _img(plots.fidelity_plot(f.curves, f.rungs, c.metric), "scores along the fidelity ladder")
    rows = []
    for d in f.decisions:
        promoted = ", ".join(f"{p['purpose']} ({_num(p['value'])})" for p in d.get("promoted") or [])
        stopped = ", ".join(f"{p['purpose']} ({_num(p['value'])})" for p in d.get("stopped") or [])
        if d.get("pruned"):
            stopped = f"{d['pruned']['purpose']} ({_num(d['pruned']['value'])}), pruned by Optuna"
        if d.get("stopped_for_budget"):
            stopped = ", ".join(d["stopped_for_budget"]) + " (budget spent)"
        rows.append([esc(d.get("rung")), esc(promoted or "-"), esc(stopped or "-")])
    if rows:
        out += _table(["rung (steps)", "promoted", "stopped"], rows, {0})
    return out


def _stat(s: dict[str, Any] | None) -> str:
    if not s or s.get("value") is None:
        return "n/a"
    ci = s.get("ci90")
    return f"{_num(s['value'], 2)}" + (f" (90% CI {_num(ci[0], 2)}..{_num(ci[1], 2)})" if ci else "")


def _transfer(c: _Ctx) -> str:
    t = rd.transfer(c.summary, c.events)
    if t.doc is None:
        return _note(
            "no transfer check ran: `recipelab transfer RUN` (or `search --transfer-check`) re-runs the baseline and "
            "the top recipes on more data with a wider model and says whether their order holds"
        )
    d, sc = t.doc, t.doc.get("scale") or {}
    acc = d.get("decision_accuracy") or {}
    every, apart = acc.get("all") or {}, acc.get("separated") or {}
    out = (
        f"<p>The baseline and the top {esc(len(d.get('recipes') or []) - 1)} recipe(s) re-run at train size "
        f"{esc(sc.get('train_size'))} (x{float(sc.get('data_scale') or 0):g}), {esc(sc.get('steps'))} steps, "
        f"model width x{float(sc.get('model_scale') or 0):g}, {esc(d.get('seeds'))} seed(s). "
        f"Decision accuracy (pairs the scale-up orders as the probes did): {esc(_stat(every))} over "
        f"{esc(every.get('n_pairs'))} pair(s); over the pairs whose probe-scale intervals do not overlap: "
        f"{esc(_stat(apart))} over {esc(apart.get('n_pairs'))} pair(s). Spearman of the means: "
        f"{esc(_stat(d.get('spearman')))}. Intervals: bootstrap over the scale-up seeds.</p>"
    )
    rows = [
        [
            esc(r.get("rank")),
            esc(r.get("label")),
            esc(r.get("kept")),
            esc(f"{r.get('train_size')}{' (capped)' if r.get('capped') else ''}"),
            esc(_num(r.get("probe_mean"))),
            esc(_num(r.get("scale_mean"))),
        ]
        for r in d.get("recipes") or []
    ]
    headers = ["rank", "recipe", "kept", "train size", f"probe scale {c.metric}", "at scale"]
    out += _table(headers, rows, {0, 2, 3, 4, 5})
    if t.points:
        out += _img(plots.transfer_plot(t, c.metric), "probe-scale vs scale-up means")
    return out


def _dashboard(c: _Ctx) -> str:
    cmd = rd.dashboard_command(c.ws)
    out = f"<p>Browse every trial of the threshold search interactively:</p><pre>{esc(cmd)}</pre>"
    if "***" in cmd:
        out += _note("the storage's password is hidden: put it in place of ***")
    out += _note(
        "install it with `pip install optuna-dashboard`; the run's studies are named "
        f"{c.run_id}:search:…" + ("" if c.ws.optuna_storage_exists else " (no Optuna storage exists yet)")
    )
    return out


RENDERERS: dict[str, Callable[[_Ctx], str]] = {
    "overview": _overview,
    "progress": _progress,
    "effects": _effects,
    "distributions": _distributions,
    "thresholds": _thresholds,
    "recipe": _recipe,
    "timeline": _timeline,
    "llm": _llm,
    "reuse": _reuse,
    "fidelity": _fidelity,
    "transfer": _transfer,
    "optuna": _optuna,
    "dashboard": _dashboard,
}


# ---------------------------------------------------------------------- page
def render_report(ws: Workspace, memory: Memory, run_id: str) -> str:
    """The report of ``run_id`` as one self-contained HTML string. Raises ``KeyError`` for an unknown run."""
    t0 = time.perf_counter()
    c = _Ctx(ws, memory, run_id)
    parts = []
    for sid, title in SECTIONS:
        try:
            body = RENDERERS[sid](c)
        except Exception as e:  # noqa: BLE001 - one broken section must not lose the whole report
            body = f'<p class="err">this section could not be rendered: {esc(type(e).__name__)}: {esc(e)}</p>'
        parts.append(f'<section id="{sid}"><h2>{esc(title)}</h2>{body}</section>')
    nav = "<nav>" + "".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title in SECTIONS) + "</nav>"
    made = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>recipelab report {esc(run_id)}</title><style>{CSS}</style></head><body>"
        f"<h1>recipelab report — <code>{esc(run_id)}</code></h1>{nav}"
        + "".join(parts)
        + f'<p class="note">generated {esc(made)} in {time.perf_counter() - t0:.1f}s by recipelab</p>'
        "</body></html>\n"
    )


def write_report(ws: Workspace, memory: Memory, run_id: str, out: str | Path) -> Path:
    """Write the report of ``run_id`` to ``out`` (folders created; replaced atomically) and return its
    absolute path. Raises ``KeyError`` for an unknown run."""
    path = Path(out)
    text = render_report(ws, memory, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path.resolve()
