"""Search quality on the built-in benchmark: every strategy with the same probe budget.

For each strategy and seed: `recipelab search` (budget 24 probes by default) on the benchmark's pool,
then the final recipe's test metric, and gap closed = (final - no_filter) / (oracle - no_filter), with the
oracle (clean pool from truth) trained with the same probe settings and test seeds.

Run by hand: `python benchmarks/search_quality.py --bench DIR [--seeds 3] [--budget 24]`.
Results are appended as each run finishes to benchmarks/results/search_quality.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

STRATEGIES = ["agent", "random", "optuna", "dj-sandbox", "k-sigma"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=Path, required=True, help="folder made by `recipelab bench make`")
    ap.add_argument("--workspace", type=Path, default=Path(".recipelab-bench"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=24)
    ap.add_argument("--test-seeds", type=int, default=2)
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "search_quality")
    args = ap.parse_args()
    env = {**os.environ, "RECIPELAB_WORKSPACE": str(args.workspace)}
    results: list[dict] = []
    jpath = args.out.with_suffix(".json")
    if jpath.exists():
        results = json.loads(jpath.read_text())
    done = {(r["strategy"], r["seed"]) for r in results}
    for seed in range(args.seeds):
        for strategy in args.strategies.split(","):
            if (strategy, seed) in done:
                continue
            t0 = time.time()
            cmd = [
                sys.executable,
                "-m",
                "recipelab",
                "search",
                "--data",
                str(args.bench / "pool.jsonl"),
                "--eval",
                str(args.bench / "eval.jsonl"),
                "--test",
                str(args.bench / "test.jsonl"),
                "--budget-probes",
                str(args.budget),
                "--strategy",
                strategy,
                "--planner",
                "stat",
                "--seed",
                str(seed),
                "--test-seeds",
                str(args.test_seeds),
                "--json",
            ]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{strategy} seed {seed} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            summary = json.loads(out.stdout)
            score = subprocess.run(
                [sys.executable, "-m", "recipelab", "bench", "score", summary["run_id"], str(args.bench), "--json"],
                env=env,
                capture_output=True,
                text=True,
            )
            if score.returncode != 0:
                print(f"scoring {summary['run_id']} failed:\n{score.stderr[-2000:]}", file=sys.stderr)
                continue
            s = json.loads(score.stdout)
            best = summary.get("best") or {}
            results.append(
                {
                    "strategy": strategy,
                    "seed": seed,
                    "run_id": summary["run_id"],
                    "test_final": s["final"],
                    "test_no_filter": s["no_filter"],
                    "test_oracle": s["oracle"],
                    "gap_closed": s["gap_closed"],
                    "eval_mean": best.get("eval_mean"),
                    "kept": best.get("kept"),
                    "pool": best.get("pool"),
                    "recipe": best.get("description"),
                    "probes": summary.get("probes"),
                    "minutes": (time.time() - t0) / 60,
                }
            )
            jpath.parent.mkdir(parents=True, exist_ok=True)
            jpath.write_text(json.dumps(results, indent=2))
            write_md(results, args)
            print(
                f"{strategy} seed {seed}: gap closed {s['gap_closed']:.2f} ({(time.time() - t0) / 60:.1f} min)",
                flush=True,
            )
    write_md(results, args)


def write_md(results: list[dict], args: argparse.Namespace) -> None:
    lines = [
        "# Search quality on the built-in benchmark",
        "",
        f"Budget {args.budget} probes per search; final recipe scored on the test split over {args.test_seeds} "
        "seed(s); gap closed = (final - no_filter) / (oracle - no_filter), oracle = the clean pool from truth "
        "with the same probe settings. One row per (strategy, search seed).",
        "",
        "| strategy | seed | test final | no filter | oracle | gap closed | kept | probes | minutes | recipe |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['strategy']} | {r['seed']} | {r['test_final']:.4f} | {r['test_no_filter']:.4f} | "
            f"{r['test_oracle']:.4f} | {r['gap_closed']:.2f} | {r['kept']}/{r['pool']} | {r['probes']} | "
            f"{r['minutes']:.1f} | {r['recipe']} |"
        )
    lines += ["", "| strategy | runs | mean gap closed | min | max |", "|---|---:|---:|---:|---:|"]
    for st in STRATEGIES:
        g = [r["gap_closed"] for r in results if r["strategy"] == st and r["gap_closed"] is not None]
        if g:
            lines.append(f"| {st} | {len(g)} | {np.mean(g):.2f} | {min(g):.2f} | {max(g):.2f} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
