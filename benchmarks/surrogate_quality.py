"""How well the search's surrogate ranked what the probes then measured, over the benchmark's agent runs.

Reads the workspace memory only (no probe is run): every agent run that `search_quality.py` or
`warm_start.py` made at ``--commit``; per run, the predictions logged before each search trial joined with
the measured results (`recipelab.agent.surrogate.prediction_quality`). Reports the pooled Spearman
correlation (predictions centred per run, since a run's level differs from another's), the per-run
values, and whether the surrogate's own picks measured better than TPE's in the same runs.

Run by hand after the benchmarks: `python benchmarks/surrogate_quality.py --commit SHA`.
Writes benchmarks/results/surrogate_quality.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from recipelab.agent.surrogate import prediction_quality, spearman
from recipelab.memory import Memory
from recipelab.workspace import Workspace

OUT = Path(__file__).parent / "results" / "surrogate_quality.md"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path(".recipelab-sq"))
    ap.add_argument("--commit", required=True, help="comma-separated: runs of any of these commits")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    mem = Memory(Workspace.open(args.root / "ws").memory_path)
    rows, pred_c, meas_c, picks, tpe = [], [], [], [], []
    for r in mem.list_runs(status="done"):
        c = r.get("config") or {}
        if c.get("bench_commit") not in args.commit.split(",") or c.get("strategy") != "agent":
            continue
        q = prediction_quality(mem, r["id"])
        if not q["n"]:
            continue
        p = np.array([x["predicted"] for x in q["pairs"]])
        m = np.array([x["measured"] for x in q["pairs"]])
        pred_c += list(p - p.mean())
        meas_c += list(m - m.mean())
        picks += [x["measured"] - m.mean() for x in q["pairs"] if x["picked_by"] == "surrogate"]
        tpe += [x["measured"] - m.mean() for x in q["pairs"] if x["picked_by"] == "tpe"]
        data = (c.get("data") or "").split("/")[-2]
        rows.append((r["id"], data, c.get("budget_probes"), c.get("seed"), c.get("warm_start"), q["n"], q["spearman"]))
    lines = [
        "# Surrogate: predicted vs measured search trials",
        "",
        f"Agent runs of commit(s) {args.commit} in `{args.root}/ws` (made by `search_quality.py` and `warm_start.py`); "
        "written by `benchmarks/surrogate_quality.py` from the memory (no probe run). Each prediction was logged "
        "before its probe ran.",
        "",
        "| run | pool | budget | seed | warm start | search trials | Spearman |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} | {e} | {n} | {s:+.2f} |" for a, b, c, d, e, n, s in rows]
    lines += [
        "",
        f"Pooled over {len(pred_c)} search trials in {len(rows)} runs (each run centred on its own mean): "
        f"Spearman {spearman(pred_c, meas_c):+.2f}.",
        f"Measured metric relative to the run's search-trial mean: surrogate's picks {np.mean(picks):+.4f} "
        f"(n={len(picks)}), TPE's picks {np.mean(tpe):+.4f} (n={len(tpe)})."
        if picks and tpe
        else "Too few picks of each kind to compare.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
