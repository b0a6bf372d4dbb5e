"""Search quality: every strategy, several search seeds, several benchmark scenarios, paired intervals.

For each scenario (a pool made by `recipelab bench make --scenario NAME`), budget, strategy and search
seed: one search (in this process, through the library), its final recipe scored on the test split by
the run's own end game (test seeds ``seed*1000 + k``, the same for every strategy of that search seed),
and gap closed = (final - no filter) / (oracle - no filter), with the oracle (the best pool the truth
allows) trained once per (scenario, test seed) with the same probe settings and cached in the results.

Anytime quality without spending the test split on every step: after each probe k the end game's
choice among the first k probes (best lower confidence bound, eval split only) is taken, and its *eval*
mean is normalised by the eval no-filter and eval oracle (the oracle models are scored on both splits).
This is optimistic for every strategy alike (the chosen mean carries the winner's curse), so it ranks
strategies' speed, not their final quality; the final quality is the test-split gap.

Resumable: finished searches are found in the workspace memory (same scenario, budget, strategy, seed,
probe settings and search code: the git tree of recipelab/, so a commit that changes only reporting
reuses them) and reused; an interrupted one is resumed. Every row records the commit that measured its
search and the one that wrote it; a row whose run is in the memory is re-derived by the invocation that
writes the table; rows made by other search code are re-run unless --allow-stale.

Run by hand (hours): `python benchmarks/search_quality.py --scenarios mixed-6,default --seeds 3 --budget 16`.
Writes benchmarks/results/search_quality.{json,md}.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.agent import analysis
from recipelab.agent.loop import SearchLoop
from recipelab.agent.state import SearchState, load_state, scoring_purpose
from recipelab.config import SearchConfig
from recipelab.data.benchmark import make_benchmark, oracle_ids
from recipelab.evidence import MAX_SEEDS, compare, t_half_width
from recipelab.executors import ProbeEnv, ProbeEnvConfig
from recipelab.memory import Memory
from recipelab.trainers.base import ProbeSpec
from recipelab.workspace import Workspace

STRATEGIES = ["agent", "random", "optuna", "dj-sandbox", "k-sigma"]
RESULTS = Path(__file__).parent / "results" / "search_quality"


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


#: Bump when search_config or oracle_scores change: what they measure is then no longer comparable.
PROTOCOL = 1


#: Files that only one strategy's search executes. A commit that changes only these leaves every other
#: strategy's search code as it was, so a change to the agent's planner re-runs the agent's searches and
#: reuses the baselines' (their rows keep the commit that measured them). Keep it to files no other
#: strategy calls: listing a shared file here would let a stale baseline row pass.
STRATEGY_ONLY_FILES: dict[str, tuple[str, ...]] = {"agent": ("recipelab/agent/planners/statistical.py",)}


@functools.cache
def search_code(sha: str, strategy: str = "") -> str:
    """What made a search: the git tree of recipelab/ at ``sha`` (less the files only other strategies
    execute, `STRATEGY_ONLY_FILES`), plus this script's PROTOCOL.

    A commit that only changes the reporting (this script's tables, README, results) keeps the same
    search code, so its invocation reuses the searches and oracles measured before it instead of
    spending hours re-running them. A dirty checkout has no known tree: only its own rows match.
    Cached: a commit's tree never changes, and every run in the memory is compared for every search.
    """
    if sha.endswith("-dirty") or sha == "unknown":
        return f"{sha}/p{PROTOCOL}"
    others = {f for s, fs in STRATEGY_ONLY_FILES.items() if s != strategy for f in fs}
    try:
        out = subprocess.run(["git", "ls-tree", "-r", sha, "recipelab"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return f"{sha}/p{PROTOCOL}"
    kept = [line for line in out.stdout.splitlines() if line.split("\t", 1)[-1] not in others]
    return f"{hashlib.sha1(chr(10).join(kept).encode()).hexdigest()[:12]}/p{PROTOCOL}"


def same_search_code(measured: str | None, sha: str, strategy: str = "") -> bool:
    return measured is not None and (measured == sha or search_code(measured, strategy) == search_code(sha, strategy))


def bench_dir(root: Path, scenario: str, size: int | None) -> Path:
    d = root / (f"bench-{scenario}" + ("" if size is None else f"-{size}"))
    if not (d / "truth.jsonl").exists():
        print(f"[{scenario}] making the benchmark in {d}", flush=True)
        make_benchmark(d, size=size, scenario=scenario, seed=0)
    return d


def search_config(bench: Path, strategy: str, seed: int, budget: int, test_seeds: int) -> SearchConfig:
    return SearchConfig(
        data=str(bench / "pool.jsonl"),
        eval=str(bench / "eval.jsonl"),
        test=str(bench / "test.jsonl"),
        budget_probes=budget,
        strategy=strategy,
        planner="stat",
        seed=seed,
        test_seeds=test_seeds,
        warm_start="off",  # every search starts cold: a strategy must not learn from another's runs
    )


def find_run(mem: Memory, cfg: SearchConfig, sha: str) -> dict[str, Any] | None:
    """A run of this exact configuration made by this commit (the newest)."""
    want = cfg.model_dump(mode="json")
    for r in mem.list_runs():
        c = dict(r.get("config") or {})
        c.pop("warm_start_sources", None)  # recorded by the loop at start
        if same_search_code(c.pop("bench_commit", None), sha, cfg.strategy) and c == want:
            return r
    return None


def run_search(ws: Workspace, mem: Memory, cfg: SearchConfig, sha: str, row: dict[str, Any] | None) -> dict[str, Any]:
    """Reuse a finished run, resume an interrupted one (``row``: `find_run`'s answer), or start one; returns
    the run row."""
    if row is not None and row["status"] == "done":
        return row
    if row is not None:
        loop = SearchLoop.resume(ws, mem, row["id"], quiet=True)
    else:
        loop = SearchLoop.create(ws, mem, cfg, quiet=True)
        run = mem.get_run(loop.run_id) or {}
        mem.update_run(loop.run_id, config={**run["config"], "bench_commit": sha})
    try:
        loop.run()
    finally:
        loop.close()
    return mem.get_run(loop.run_id) or {}


def oracle_scores(ws: Workspace, bench: Path, cfg: SearchConfig, run_id: str, cache: dict[str, Any]) -> dict:
    """Oracle (best pool the truth allows) on eval and test for the run's test seeds; cached by seed."""
    key = f"{bench.name}:{cfg.seed}:{cfg.test_seeds}"
    if key in cache:
        return cache[key]
    env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg, ws, run_id), quiet=True)
    keep = set(oracle_ids(bench))
    ids = [s.id for s in env.pool.samples if s.id in keep]
    size = max(64, len(env.pool) // 3)
    out: dict[str, list[float]] = {"eval": [], "test": []}
    for k in range(cfg.test_seeds):
        spec = ProbeSpec(task=cfg.task, train_ids=ids, train_size=size, seed=cfg.seed * 1000 + k)
        fitted = env.trainer.fit(spec, env.pool.samples)
        for split in out:
            metrics, _, _ = env.trainer.evaluate(fitted, env.splits[split].samples)
            out[split].append(float(metrics[spec.primary_metric]))
    cache[key] = out
    return out


def anytime(state: SearchState, eval_oracle: float, seconds: dict[int, float]) -> list[dict[str, float]]:
    """Eval gap closed of the end game's choice after each probe, with the probe minutes spent so far
    (see the module docstring and `probe_seconds`)."""
    trials = sorted(state.trials, key=lambda t: t.id)
    spent = np.cumsum([seconds.get(t.id, 0.0) for t in trials]) / 60
    base = analysis.baseline(state)
    if base is None:
        return []
    points = []
    for k in range(1, len(trials) + 1):
        sub = replace(state, trials=trials[:k])
        ranked = analysis.ranked(sub)
        if not ranked:
            continue
        best = ranked[0][0]
        gap = (best.mean - base.mean) / (eval_oracle - base.mean) if eval_oracle > base.mean else float("nan")
        points.append({"probes": k, "minutes": float(spent[k - 1]), "eval_gap": gap})
    return points


def test_values(mem: Memory, run_id: str) -> dict[str, dict[int, float]]:
    """The end game's test-split scores per test seed: {"final"|"baseline": {seed: value}}."""
    return {
        name: {
            int(e["seed"]): float(e["primary_value"])
            for e in mem.experiments(run_id, status="done", purpose=scoring_purpose(name))
            if e.get("primary_value") is not None
        }
        for name in ("final", "baseline")
    }


def per_seed(row: dict[str, Any], what: str) -> dict[int, float]:
    """One row's test scores per test seed for "final", "baseline" or "oracle" (JSON keys are strings)."""
    return {int(k): float(v) for k, v in (row.get("test_values") or {}).get(what, {}).items()}


def probe_seconds(mem: Memory, run_id: str) -> dict[int, float]:
    """Each of a run's probes' compute in seconds: its own wall time, or for a cache hit the wall time of
    the probe it reused. Searches of several strategies share one probe cache, so a search that replays
    probes another run made first still needed that compute; counting it keeps strategies comparable
    whatever order they ran in."""
    out: dict[int, float] = {}
    for e in mem.experiments(run_id):
        src, wall = e.get("cached_from"), e.get("wall_time_s")
        for _ in range(8):  # a cache hit points at the probe that ran; follow a short chain to be safe
            if src is None:
                break
            orig = mem.get_experiment(int(src)) or {}
            src, wall = orig.get("cached_from"), orig.get("wall_time_s")
        out[int(e["id"])] = float(wall or 0.0)
    return out


def paired_interval(diffs: list[float], conf: float = 0.9) -> tuple[float, float, float]:
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return float(d.mean()) if len(d) else float("nan"), float("nan"), float("nan")
    half = t_half_width(float(d.std(ddof=1)), len(d), conf)
    return float(d.mean()), float(d.mean()) - half, float(d.mean()) + half


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default="mixed-6,default")
    ap.add_argument("--size", type=int, default=None, help="pool size (default: the scenario's own)")
    ap.add_argument("--root", type=Path, default=Path(".recipelab-sq"), help="benchmarks and workspace go here")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--only-seeds",
        default=None,
        help="comma-separated search seeds to run now (of range(--seeds)); lets two processes split the seeds, each "
        "with its own --out; an invocation without it writes the table from the memory",
    )
    ap.add_argument("--budget", default="16", help="comma-separated probe budgets")
    ap.add_argument("--test-seeds", type=int, default=2)
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--allow-stale", action="store_true", help="keep rows measured with another commit")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    sha = commit()
    jpath = args.out.with_suffix(".json")
    doc: Any = json.loads(jpath.read_text()) if jpath.exists() else {}
    if not isinstance(doc, dict) or doc.get("format") != 2:  # an older results file: start afresh
        doc = {"format": 2, "rows": [], "oracles": {}}
    rows: list[dict[str, Any]] = [
        r for r in doc["rows"] if args.allow_stale or same_search_code(r["commit"], sha, r["strategy"])
    ]
    doc["oracles"] = {
        k: v for k, v in doc["oracles"].items() if args.allow_stale or same_search_code(v.get("commit"), sha, "oracle")
    }
    oracles = {k: v["scores"] for k, v in doc["oracles"].items()}
    ws = Workspace.open(args.root / "ws")
    mem = Memory(ws.memory_path)
    budgets = [int(b) for b in args.budget.split(",")]
    seeds = list(range(args.seeds)) if args.only_seeds is None else [int(x) for x in args.only_seeds.split(",")]
    for scenario in args.scenarios.split(","):
        bench = bench_dir(args.root, scenario, args.size)
        for budget in budgets:
            for seed in seeds:
                for strategy in args.strategies.split(","):
                    key = (scenario, budget, strategy, seed)
                    t0 = time.time()
                    cfg = search_config(bench, strategy, seed, budget, args.test_seeds)
                    old = [r for r in rows if (r["scenario"], r["budget"], r["strategy"], r["seed"]) == key]
                    found = find_run(mem, cfg, sha)
                    if old and not (found and found["status"] == "done"):
                        continue  # measured before, and this memory does not hold the run: keep the row as it is
                    # Re-derive the row from the memory, so every row of the table comes from this invocation.
                    rows = [r for r in rows if r not in old]
                    run = run_search(ws, mem, cfg, sha, found)
                    summary = run.get("summary") or {}
                    test = summary.get("test") or {}
                    if not (test.get("final") or {}).get("mean"):
                        print(f"{key}: no test result ({summary.get('reason')})", file=sys.stderr, flush=True)
                        continue
                    orc = oracle_scores(ws, bench, cfg, run["id"], oracles)
                    doc["oracles"] = {
                        k: {"scores": v, "commit": doc["oracles"].get(k, {}).get("commit", sha)}
                        for k, v in oracles.items()
                    }
                    f, b = float(test["final"]["mean"]), float(test["baseline"]["mean"])
                    o = float(np.mean(orc["test"]))
                    values = test_values(mem, run["id"])
                    if not values["baseline"] and not (summary.get("best") or {}).get("choices"):
                        values["baseline"] = values["final"]  # final is no filter: one probe per seed served both
                    values["oracle"] = {cfg.seed * 1000 + k: v for k, v in enumerate(orc["test"])}
                    state = load_state(mem, run["id"])
                    seconds = probe_seconds(mem, run["id"])
                    curve = anytime(state, float(np.mean(orc["eval"])), seconds)
                    best = summary.get("best") or {}
                    reach = next((p["probes"] for p in curve if p["eval_gap"] >= 0.8), None)
                    rows.append(
                        {
                            "scenario": scenario, "budget": budget, "strategy": strategy, "seed": seed,
                            "run_id": run["id"], "commit": (run.get("config") or {}).get("bench_commit", sha),
                            "written_by": sha, "test_values": values, "test_final": f, "test_no_filter": b,
                            "test_oracle": o, "gap_closed": (f - b) / (o - b) if o > b else None,
                            "eval_mean": best.get("eval_mean"), "kept": best.get("kept"), "pool": best.get("pool"),
                            "recipe": best.get("description"), "probes": summary.get("probes"),
                            "probe_minutes": sum(seconds.values()) / 60, "anytime": curve,
                            "minutes_to_0.8_eval_gap": next(
                                (p["minutes"] for p in curve if p["eval_gap"] >= 0.8), None
                            ),
                            "probes_to_0.8_eval_gap": reach, "minutes": (time.time() - t0) / 60,
                        }
                    )  # fmt: skip
                    doc["rows"] = rows
                    doc["commit"] = sha
                    jpath.parent.mkdir(parents=True, exist_ok=True)
                    jpath.write_text(json.dumps(doc, indent=1))
                    write_md(doc, args)
                    g = rows[-1]["gap_closed"]
                    print(f"{key}: gap closed {g if g is None else round(g, 2)} ({rows[-1]['minutes']:.1f} min)")
    write_md(doc, args)


def no_filter_section(by: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each strategy's final recipe against no filter in the test metric itself, paired by search seed (the
    same test seeds score both). Gap closed divides by the oracle's gain, which is close to 0 on a nearly clean
    pool; "not worse than no filter" needs no oracle."""
    out = []
    for s, rs in by.items():
        diffs = [r["test_final"] - r["test_no_filter"] for r in rs]
        if len(diffs) < 2:
            continue
        m, lo, hi = paired_interval(diffs)
        verdict = "better than no filter" if lo > 0 else "worse than no filter" if hi < 0 else "no measurable change"
        out.append(f"| {s} | {len(diffs)} | {m:+.4f} | [{lo:+.4f}, {hi:+.4f}] | {verdict} |")
    if not out:
        return []
    head = "| final - no filter (test metric) | seeds | mean | 90% interval | verdict |"
    return ["", head, "|---|---:|---:|---|---|", *out]


def noise_section(by: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Paired differences in the test metric itself, and how much of their spread is test scoring.

    The gap-closed table divides each seed's difference by that seed's own oracle gap, which is itself
    measured with a few test seeds; here the denominator is pooled over search seeds, so it scales
    every seed alike. Rows measured before per-test-seed values were recorded are left out.
    """
    finals = {s: {r["seed"]: v for r in rs if (v := per_seed(r, "final"))} for s, rs in by.items()}
    agent = finals.get("agent", {})
    gaps: dict[int, list[float]] = {}
    for rs in by.values():
        for r in rs:
            o, b = per_seed(r, "oracle"), per_seed(r, "baseline")
            common = sorted(set(o) & set(b))
            if common and r["seed"] not in gaps:
                gaps[r["seed"]] = [o[k] - b[k] for k in common]
    if not agent or not gaps:
        return []
    pooled = float(np.mean([np.mean(g) for g in gaps.values()]))
    out = [
        "",
        f"Oracle gap on test (oracle - no filter, mean over test seeds): {pooled:.4f} pooled over search seeds "
        f"({', '.join(f'seed {s}: {np.mean(g):.4f}' for s, g in sorted(gaps.items()))}). Below, agent - baseline "
        "strategy in the test metric itself, per search seed averaged over its test seeds; gap units divide by "
        "the pooled oracle gap. Test-scoring sd: what the per-seed difference would vary by from the test "
        "probes' own seed noise alone (share: of the between-seed variance). Seeds to separate: search seeds "
        "at which this mean and sd would give a 90% interval that excludes 0.",
        "",
        "| paired difference (test metric) | seeds | mean | 90% interval | in gap units | verdict "
        "| between-seed sd | test-scoring sd (share) | seeds to separate |",
        "|---|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for s in by:
        if s == "agent":
            continue
        c = compare(agent, finals[s])
        if c is None or c.n < 2:
            continue
        g = c.scaled(1 / pooled) if pooled > 0 else None
        verdict = {"A beats B": "agent beats it", "B beats A": "it beats the agent"}.get(c.verdict, c.verdict)
        share = c.scoring_share
        scoring = "n/a" if c.scoring_sd is None else f"{c.scoring_sd:.4f}"
        scoring += "" if share is None else f" ({share:.0%})"
        need = c.seeds_needed()
        out.append(
            f"| agent - {s} | {c.n} | {c.mean:+.4f} | [{c.lo:+.4f}, {c.hi:+.4f}] | "
            + (f"{g.mean:+.2f} [{g.lo:+.2f}, {g.hi:+.2f}]" if g else "n/a")
            + f" | {verdict} | {c.sd:.4f} | {scoring} | "
            + ("n/a" if need is None else f"> {MAX_SEEDS}" if need > MAX_SEEDS else str(need))
            + " |"
        )
    return out


def plot_anytime(rows: list[dict[str, Any]], path: Path) -> None:
    """Best-so-far (eval gap closed of the end game's choice) against probes and probe minutes, one line
    per strategy (mean over search seeds), one row of panels per scenario and budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = list(dict.fromkeys((r["scenario"], r["budget"]) for r in rows))
    if not sections:
        return
    fig, axes = plt.subplots(len(sections), 2, figsize=(11, 3.6 * len(sections)), squeeze=False)
    for (scenario, budget), (ax_p, ax_m) in zip(sections, axes, strict=True):
        for s in STRATEGIES:
            curves = [r["anytime"] for r in rows if (r["scenario"], r["budget"], r["strategy"]) ==
                      (scenario, budget, s) and r.get("anytime")]  # fmt: skip
            if not curves:
                continue
            n = min(len(c) for c in curves)
            gap = np.nanmean([[p["eval_gap"] for p in c[:n]] for c in curves], axis=0)
            probes = [p["probes"] for p in curves[0][:n]]
            (line,) = ax_p.plot(probes, gap, label=f"{s} ({len(curves)} seeds)")
            for c in curves:
                if all("minutes" in p for p in c):
                    ax_m.plot([p["minutes"] for p in c], [p["eval_gap"] for p in c], color=line.get_color(), lw=0.8)
        for ax, xl in ((ax_p, "probes used"), (ax_m, "probe minutes (one line per search seed)")):
            ax.axhline(1.0, color="grey", ls="--", lw=0.8)
            ax.axhline(0.8, color="grey", ls=":", lw=0.8)
            ax.set_xlabel(xl)
            ax.set_ylabel("eval gap closed (best so far)")
            ax.set_title(f"{scenario}, budget {budget}")
        ax_p.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_md(doc: dict[str, Any], args: argparse.Namespace) -> None:
    rows = doc["rows"]
    commits = sorted({r["commit"] for r in rows})
    writers = sorted({r.get("written_by", r["commit"]) for r in rows})
    lines = [
        "# Search quality: strategies over search seeds and scenarios",
        "",
        f"Searches measured at commit(s): {', '.join(commits) or '-'}; table written at {', '.join(writers) or '-'} "
        "by `benchmarks/search_quality.py` in one invocation (finished searches are reused from the memory when "
        f"the search code, recipelab/, is the same). Test seeds per search: {args.test_seeds}. "
        "Gap closed = (final - no filter) / (oracle - no filter) on the test split; the oracle is the clean pool "
        "with exact-duplicate clean captions collapsed, same probe settings and test seeds. Paired differences "
        "agent - baseline strategy are over search seeds (same seeds, same test seeds), with a 90% t interval; "
        '"beats" only where the interval excludes 0.',
        "",
    ]
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        for budget in sorted({r["budget"] for r in rows if r["scenario"] == scenario}):
            sel = [r for r in rows if r["scenario"] == scenario and r["budget"] == budget]
            lines += [
                f"## {scenario}, budget {budget}",
                "",
                "| strategy | seeds | gap closed (mean ± sd) | test final | probes to 0.8 eval gap (median) "
                "| probe min to 0.8 eval gap (median) | probe min (mean) |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            by = {s: sorted((r for r in sel if r["strategy"] == s), key=lambda r: r["seed"]) for s in STRATEGIES}
            for s, rs in by.items():
                g = [r["gap_closed"] for r in rs if r["gap_closed"] is not None]
                if not g:
                    continue
                reach = [r["probes_to_0.8_eval_gap"] for r in rs if r["probes_to_0.8_eval_gap"] is not None]
                mins = [r["minutes_to_0.8_eval_gap"] for r in rs if r.get("minutes_to_0.8_eval_gap") is not None]
                sd = f" ± {np.std(g, ddof=1):.2f}" if len(g) > 1 else ""
                lines.append(
                    f"| {s} | {len(g)} | {np.mean(g):.2f}{sd} | {np.mean([r['test_final'] for r in rs]):.4f} | "
                    f"{(np.median(reach) if reach else float('nan')):.0f} ({len(reach)}/{len(rs)} reached) | "
                    f"{(np.median(mins) if mins else float('nan')):.1f} | "
                    f"{np.mean([r['probe_minutes'] for r in rs]):.1f} |"
                )
            agent = {r["seed"]: r for r in by.get("agent", []) if r["gap_closed"] is not None}
            comp = []
            for s, rs in by.items():
                if s == "agent":
                    continue
                diffs = [agent[r["seed"]]["gap_closed"] - r["gap_closed"] for r in rs
                         if r["seed"] in agent and r["gap_closed"] is not None]  # fmt: skip
                if len(diffs) < 2:
                    continue
                m, lo, hi = paired_interval(diffs)
                verdict = "agent beats it" if lo > 0 else "it beats the agent" if hi < 0 else "no measurable difference"
                comp.append(f"| agent - {s} | {len(diffs)} | {m:+.2f} | [{lo:+.2f}, {hi:+.2f}] | {verdict} |")
            if comp:
                lines += ["", "| paired difference (gap closed) | seeds | mean | 90% interval | verdict |",
                          "|---|---:|---:|---|---|", *comp]  # fmt: skip
            lines += no_filter_section(by)
            lines += noise_section(by)
            lines += ["", "| strategy | seed | gap closed | test final | no filter | oracle | kept | recipe |",
                      "|---|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
            for r in sorted(sel, key=lambda r: (STRATEGIES.index(r["strategy"]), r["seed"])):
                g = "n/a" if r["gap_closed"] is None else f"{r['gap_closed']:.2f}"
                lines.append(
                    f"| {r['strategy']} | {r['seed']} | {g} | {r['test_final']:.4f} | {r['test_no_filter']:.4f} | "
                    f"{r['test_oracle']:.4f} | {r['kept']}/{r['pool']} | {r['recipe']} |"
                )
            lines.append("")
    plot = args.out.with_name(args.out.name + "_anytime.png")
    plot_anytime(rows, plot)
    lines.insert(
        4,
        f"![anytime quality]({plot.name}) Anytime quality: `{plot.name}` (eval gap closed of the end game's choice "
        "after each probe, against probes and probe minutes; a cache hit counts the minutes of the probe it "
        "reused). Probe min: all of a search's probes, test scoring included.\n",
    )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
