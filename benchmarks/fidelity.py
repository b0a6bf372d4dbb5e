"""Multi-fidelity probes: the same answer for half the training compute?

Side by side, in one invocation, per search seed s (all ``--warm-start off``):
- ``single B``: the single-fidelity agent with a budget of B probes (the run `search_quality.py` makes);
- ``multi B/2``: the agent with ``--multi-fidelity`` and a budget of B/2 full-probe equivalents
  (successive halving of its screens on the 1/4, 1/2, 1 ladder; Optuna's pruner on its search);
- ``single B/2``: the single-fidelity agent with B/2 probes: the control that says whether the saving
  comes from the ladder or whether half the probes were enough anyway.

Compute is training steps summed over every probe the search ran (a segment resumed from a checkpoint
counts only the steps it added; the end game's test scoring is left out, the same two probes for all).
Quality is the loops' own test scoring of the final recipe, as gap closed against the oracle pool.

Warm start, in the same invocation: ``warm B`` is the agent with seed s + 100 (every probe new) and
``--warm-start <the single B run>``; its reach is the probes until its end-game choice (eval split, best
lower bound so far) has an eval mean at least the cold run's final eval mean minus one pooled seed sd,
as a share of the cold run's probes (target: at most 1/4).

Calibration of the ladder (which fidelity still separates a strong op from the baseline): the no-filter
pool and the oracle pool, probed over ``--cal-seeds`` seeds with their curve at every rung; per rung the
gap in seed standard deviations. And, from the multi-fidelity runs, how often the first rung's order of
two screens is the order their full-length probes keep (promoted pairs only).

Run by hand: `python benchmarks/fidelity.py --scenario mixed-6 --seeds 3 --budget 24`.
Writes benchmarks/results/fidelity.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from search_quality import bench_dir, commit, oracle_scores, paired_interval, run_search, search_config
from warm_start import probes_to_reach

from recipelab.agent import analysis
from recipelab.agent.fidelity import Ladder
from recipelab.agent.state import load_state
from recipelab.data.benchmark import oracle_ids
from recipelab.executors import ProbeEnv, ProbeEnvConfig
from recipelab.memory import Memory
from recipelab.trainers.base import DEFAULT_PROBE, ProbeSpec
from recipelab.workspace import Workspace

RESULTS = Path(__file__).parent / "results" / "fidelity"


def training_steps(mem: Memory, run_id: str) -> int:
    st = load_state(mem, run_id)
    return int(round(sum(t.cost for t in st.trials + st.segments) * DEFAULT_PROBE["steps"]))


def probe_minutes(mem: Memory, run_id: str) -> float:
    """Wall minutes of the search's own probes (cache hits and test scoring left out)."""
    exps = mem.experiments(run_id)
    own = [e for e in exps if e.get("cached_from") is None and not (e.get("purpose") or "").startswith("test:")]
    return sum((e.get("wall_time_s") or 0.0) for e in own) / 60


def rung_order_agreement(mem: Memory, run_id: str, rung: int) -> tuple[int, int]:
    """(pairs whose order at ``rung`` the full-length probes keep, pairs) over screens promoted to full."""
    st = load_state(mem, run_id)
    low = {
        t.purpose: t.metric for t in st.segments if t.end_step == rung and t.done and t.purpose.startswith("screen:")
    }
    full = {t.purpose: t.metric for t in st.trials if t.done and t.purpose in low and t.seed_index == 0}
    keep = n = 0
    for a, b in combinations(sorted(full), 2):
        if low[a] == low[b] or full[a] == full[b]:
            continue
        n += 1
        keep += (low[a] > low[b]) == (full[a] > full[b])
    return keep, n


def calibrate(ws: Workspace, bench: Path, seeds: int, ladder: Ladder) -> dict[str, Any]:
    cfg = search_config(bench, "agent", 0, 1, 0)
    env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg, ws, "fidelity-calibration"), quiet=True)
    size = max(64, len(env.pool) // 3)
    keep = set(oracle_ids(bench))
    pools = {"no filter": [s.id for s in env.pool.samples], "oracle": [s.id for s in env.pool.samples if s.id in keep]}
    scores: dict[str, dict[int, list[float]]] = {name: {r: [] for r in ladder.rungs} for name in pools}
    for name, ids in pools.items():
        for k in range(seeds):
            spec = ProbeSpec(train_ids=ids, train_size=size, seed=50_000 + k, eval_steps=ladder.eval_steps())
            res = env.run(spec, "test")
            for p in res.curve:
                scores[name][p["step"]].append(p["metrics"][res.primary_metric])
            scores[name][ladder.steps].append(res.primary)
            print(f"calibration {name} seed {k}: {[round(x[-1], 4) for x in scores[name].values()]}", flush=True)
    out = {}
    for r in ladder.rungs:
        a, b = np.array(scores["no filter"][r]), np.array(scores["oracle"][r])
        sd = float(np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))
        out[str(r)] = {"no_filter": a.tolist(), "oracle": b.tolist(), "gap": float(b.mean() - a.mean()), "sd": sd,
                       "gap_in_sd": float((b.mean() - a.mean()) / sd) if sd > 0 else float("inf")}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="mixed-6")
    ap.add_argument("--root", type=Path, default=Path(".recipelab-sq"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=24)
    ap.add_argument("--test-seeds", type=int, default=2)
    ap.add_argument("--cal-seeds", type=int, default=4)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    sha = commit()
    ws = Workspace.open(args.root / "ws")
    mem = Memory(ws.memory_path)
    bench = bench_dir(args.root, args.scenario, None)
    ladder = Ladder.of(DEFAULT_PROBE["steps"])
    oracles: dict[str, Any] = {}
    half = args.budget // 2
    arms: dict[str, tuple[int, bool, list[float], int]] = {
        f"single {args.budget}": (args.budget, False, [1.0], 2),
        f"multi {half}": (half, True, [0.25, 0.5, 1.0], 2),
        f"single {half}": (half, False, [1.0], 2),
        f"multi {half} (1/2 rung, eta 3)": (half, True, [0.5, 1.0], 3),
    }
    rows = []
    for seed in range(args.seeds):
        row: dict[str, Any] = {"seed": seed}
        for name, (budget, multi, rungs, eta) in arms.items():
            update: dict[str, Any] = {"multi_fidelity": multi}
            if multi:
                update |= {"fidelity_rungs": rungs, "fidelity_eta": eta}
            cfg = search_config(bench, "agent", seed, budget, args.test_seeds).model_copy(update=update)
            first_rung = Ladder.of(DEFAULT_PROBE["steps"], rungs, eta).rungs[0]
            run = run_search(ws, mem, cfg, sha)
            summ = run.get("summary") or {}
            test = summ.get("test") or {}
            orc = oracle_scores(ws, bench, cfg, run["id"], oracles)
            f, b = test["final"]["mean"], test["baseline"]["mean"]
            o = float(np.mean(orc["test"]))
            st = load_state(mem, run["id"])
            agree = rung_order_agreement(mem, run["id"], first_rung) if multi else (0, 0)
            row[name] = {
                "run": run["id"],
                "budget": budget,
                "compute_used": st.compute_used,
                "probes_full": len(st.trials),
                "segments": len(st.segments),
                "training_steps": training_steps(mem, run["id"]),
                "probe_minutes": probe_minutes(mem, run["id"]),
                "test_gap": (f - b) / (o - b),
                "eval_final": (summ.get("best") or {}).get("eval_mean"),
                "recipe": (summ.get("best") or {}).get("description"),
                "rung1_order_kept": agree,
            }  # fmt: skip
            print(seed, name, json.dumps({k: v for k, v in row[name].items() if k != "recipe"}), flush=True)
        cold = row[f"single {args.budget}"]
        wcfg = search_config(bench, "agent", seed + 100, args.budget, args.test_seeds).model_copy(
            update={"warm_start": cold["run"]}
        )
        warm = run_search(ws, mem, wcfg, sha)
        wsum = warm.get("summary") or {}
        wtest = wsum.get("test") or {}
        orc = oracle_scores(ws, bench, wcfg, warm["id"], oracles)
        o = float(np.mean(orc["test"]))
        f, b = wtest["final"]["mean"], wtest["baseline"]["mean"]
        cst = load_state(mem, cold["run"])
        target = float(cold["eval_final"]) - float(analysis.noise_sd(cst))
        reach = probes_to_reach(load_state(mem, warm["id"]), target)
        row[f"warm {args.budget}"] = {
            "run": warm["id"],
            "reach_1sd": reach,
            "reach_ratio": reach / len(cst.trials) if reach else None,
            "test_gap": (f - b) / (o - b),
            "training_steps": training_steps(mem, warm["id"]),
        }
        print(seed, "warm", json.dumps(row[f"warm {args.budget}"]), flush=True)
        rows.append(row)
        doc = {"commit": sha, "scenario": args.scenario, "budget": args.budget, "arms": list(arms), "rows": rows}
        args.out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    doc["calibration"] = calibrate(ws, bench, args.cal_seeds, ladder)
    args.out.with_suffix(".json").write_text(json.dumps(doc, indent=1))
    write_md(doc, args.out.with_suffix(".md"))


def write_md(doc: dict[str, Any], path: Path) -> None:
    rows, arms = doc["rows"], doc["arms"]
    single, control = arms[0], arms[2]
    multis = [a for a in arms if a.startswith("multi")]
    lines = [
        "# Multi-fidelity probes: the same answer for half the training compute?",
        "",
        f"Commit {doc['commit']}; scenario {doc['scenario']}; {len(rows)} search seeds; written by "
        "`benchmarks/fidelity.py` in one invocation. Arms: the single-fidelity agent with "
        f"{doc['budget']} probes, the multi-fidelity agent (`--multi-fidelity`: successive halving of screens on "
        "the 50 -> 100 -> 200 step ladder, keeping the best half at each rung; Optuna's SuccessiveHalvingPruner "
        f"on the threshold search) with {doc['budget'] // 2} full-probe equivalents, the same on a 100 -> 200 "
        f"ladder keeping the best third, and the single-fidelity agent with {doc['budget'] // 2} probes as the "
        "control. Training steps are summed over the search's "
        "probes (a resumed segment counts the steps it added); test gap closed is the loops' own test scoring "
        "against the oracle pool.",
        "",
        "| seed | arm | run | full probes | segments | training steps | probe minutes | test gap closed |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for a in arms:
            x = r[a]
            lines.append(
                f"| {r['seed']} | {a} | {x['run']} | {x['probes_full']} | {x['segments']} | {x['training_steps']} "
                f"| {x['probe_minutes']:.1f} | {x['test_gap']:.2f} |"
            )
    lines.append("")
    for a in arms:
        g = [r[a]["test_gap"] for r in rows]
        s = [r[a]["training_steps"] for r in rows]
        sd = statistics.stdev(g) if len(g) > 1 else float("nan")
        lines.append(f"- {a}: test gap closed {np.mean(g):.2f} ± {sd:.2f}; training steps {np.mean(s):.0f}")
    for mk in multis:
        ratio = [r[mk]["training_steps"] / r[single]["training_steps"] for r in rows]
        lines.append(f"- training steps, {mk} / {single}: " + ", ".join(f"{x:.2f}" for x in ratio)
                     + f" (mean {np.mean(ratio):.2f}; target at most 0.5)")  # fmt: skip
        for other in (single, control):
            m, lo, hi = paired_interval([r[mk]["test_gap"] - r[other]["test_gap"] for r in rows])
            verdict = "no measurable difference" if lo <= 0 <= hi else ("multi better" if lo > 0 else "multi worse")
            lines.append(f"- test gap closed, {mk} - {other}, paired over seeds: {m:+.2f} [{lo:+.2f}, {hi:+.2f}] "
                         f"(90% t interval): {verdict}")  # fmt: skip
    wk = f"warm {doc['budget']}"
    if all(wk in r for r in rows):
        ratios = [r[wk]["reach_ratio"] for r in rows]
        shown = ", ".join("not reached" if x is None else f"{x:.2f}" for x in ratios)
        known = sorted(x if x is not None else float("inf") for x in ratios)
        lines.append(
            f"- warm start ({wk}, seed s+100, `--warm-start <{single} run>`): probes to the cold run's final eval "
            f"quality (within 1 seed sd) / the cold run's probes: {shown} (median {known[len(known) // 2]:.2f}; "
            "target at most 0.25)"
        )
        m, lo, hi = paired_interval([r[wk]["test_gap"] - r[single]["test_gap"] for r in rows])
        verdict = "no measurable difference" if lo <= 0 <= hi else ("warm better" if lo > 0 else "warm worse")
        lines.append(f"- test gap closed, {wk} - {single}: {m:+.2f} [{lo:+.2f}, {hi:+.2f}] (90% t interval): {verdict}")
    for mk in multis:
        kept = sum(r[mk]["rung1_order_kept"][0] for r in rows)
        pairs = sum(r[mk]["rung1_order_kept"][1] for r in rows)
        if pairs:
            lines.append(f"- {mk}: first-rung order of two screens that both reached full length, kept at full "
                         f"length: {kept}/{pairs} pairs ({kept / pairs:.0%})")  # fmt: skip
    cal = doc.get("calibration")
    if cal:
        lines += [
            "",
            "## Which fidelity separates a strong effect (no filter vs the oracle pool, test split)",
            "",
            "| rung (steps) | no filter | oracle | gap | seed sd | gap / sd |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for r, c in cal.items():
            lines.append(
                f"| {r} | {np.mean(c['no_filter']):.4f} | {np.mean(c['oracle']):.4f} | {c['gap']:+.4f} | {c['sd']:.4f} "
                f"| {c['gap_in_sd']:.1f} |"
            )
    lines.append("")
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
