"""Warm start: does a second search on the same pool reach the first one's quality with fewer probes?

For each search seed s: a cold agent search (seed s, ``--warm-start off``; the same run as
`search_quality.py` makes at this commit, reused from the memory) and a warm one (seed s + 100, so every
probe is new, ``--warm-start <cold run>``), both with the same budget. Measured side by side:

- probes the warm search needs until its end-game choice (best lower bound among its first k probes,
  eval split only) has an eval mean at least the cold search's final eval mean (and within one pooled
  seed sd of it), against the cold search's probes;
- both final recipes on the test split (the loops' own test scoring), as gap closed, paired over seeds.

Run by hand: `python benchmarks/warm_start.py --scenario mixed-6 --seeds 3 --budget 16`.
Writes benchmarks/results/warm_start.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from search_quality import (
    bench_dir,
    commit,
    oracle_scores,
    paired_interval,
    run_search,
    search_config,
)

from recipelab.agent import analysis
from recipelab.agent.state import SearchState, load_state
from recipelab.memory import Memory
from recipelab.workspace import Workspace

RESULTS = Path(__file__).parent / "results" / "warm_start"


def probes_to_reach(state: SearchState, target: float) -> int | None:
    trials = sorted(state.trials, key=lambda t: t.id)
    for k in range(1, len(trials) + 1):
        ranked = analysis.ranked(replace(state, trials=trials[:k]))
        if ranked and ranked[0][0].mean >= target:
            return k
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="mixed-6")
    ap.add_argument("--root", type=Path, default=Path(".recipelab-sq"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=16)
    ap.add_argument("--test-seeds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    sha = commit()
    ws = Workspace.open(args.root / "ws")
    mem = Memory(ws.memory_path)
    bench = bench_dir(args.root, args.scenario, None)
    oracles: dict[str, Any] = {}
    rows = []
    for seed in range(args.seeds):
        cold_cfg = search_config(bench, "agent", seed, args.budget, args.test_seeds)
        cold = run_search(ws, mem, cold_cfg, sha)
        warm_cfg = search_config(bench, "agent", seed + 100, args.budget, args.test_seeds).model_copy(
            update={"warm_start": cold["id"]}
        )
        warm = run_search(ws, mem, warm_cfg, sha)
        row: dict[str, Any] = {"seed": seed, "cold_run": cold["id"], "warm_run": warm["id"]}
        for name, run, cfg in (("cold", cold, cold_cfg), ("warm", warm, warm_cfg)):
            st = load_state(mem, run["id"])
            summ = run.get("summary") or {}
            test = summ.get("test") or {}
            orc = oracle_scores(ws, bench, cfg, run["id"], oracles)
            f, b = test["final"]["mean"], test["baseline"]["mean"]
            o = sum(orc["test"]) / len(orc["test"])
            row[name] = {
                "probes": st.used,
                "eval_final": (summ.get("best") or {}).get("eval_mean"),
                "noise_sd": float(analysis.noise_sd(st)),
                "test_gap": (f - b) / (o - b),
                "recipe": [c["op"] for c in (summ.get("best") or {}).get("choices") or []],
            }
        target = row["cold"]["eval_final"]
        wst = load_state(mem, warm["id"])
        row["warm"]["reach_exact"] = probes_to_reach(wst, target)
        row["warm"]["reach_1sd"] = probes_to_reach(wst, target - row["cold"]["noise_sd"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    doc = {"commit": sha, "scenario": args.scenario, "budget": args.budget, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    write_md(doc, args.out.with_suffix(".md"))


def write_md(doc: dict[str, Any], path: Path) -> None:
    rows = doc["rows"]
    B = doc["budget"]
    lines = [
        "# Warm start: a second search on the same pool",
        "",
        f"Commit {doc['commit']}; scenario {doc['scenario']}, budget {B} probes for both searches; written by "
        "`benchmarks/warm_start.py` in one invocation. Cold: agent, seed s, `--warm-start off`. Warm: agent, "
        "seed s+100 (all probes new), `--warm-start <cold run>`. Reach: probes until the warm search's end-game "
        "choice (eval split, best lower bound among the probes so far) has an eval mean >= the cold search's "
        "final eval mean (exact), or >= it minus one pooled seed sd (1 sd).",
        "",
        "| seed | cold run | warm run | cold probes | warm reach (exact) | warm reach (1 sd) | ratio (1 sd) "
        "| cold test gap | warm test gap |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for r in rows:
        c, w = r["cold"], r["warm"]
        ratio = (w["reach_1sd"] / c["probes"]) if w["reach_1sd"] else float("nan")
        ratios.append(ratio)
        lines.append(
            f"| {r['seed']} | {r['cold_run']} | {r['warm_run']} | {c['probes']} | {w['reach_exact'] or 'not reached'} "
            f"| {w['reach_1sd'] or 'not reached'} | {ratio:.2f} | {c['test_gap']:.2f} | {w['test_gap']:.2f} |"
        )
    m, lo, hi = paired_interval([r["warm"]["test_gap"] - r["cold"]["test_gap"] for r in rows])
    verdict = "no measurable difference" if lo <= 0 <= hi else ("warm better" if lo > 0 else "warm worse")
    lines += [
        "",
        f"Median probe ratio (warm reach within 1 sd / cold probes): "
        f"{sorted(ratios)[len(ratios) // 2]:.2f} (target: at most 0.25).",
        f"Final test gap closed, warm - cold, paired over {len(rows)} seeds: {m:+.2f} [{lo:+.2f}, {hi:+.2f}] "
        f"(90% t interval): {verdict}.",
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
