"""Do the strategies' final recipes keep their order at a larger scale?

`search_quality.py` ranks strategies by their final recipe's *probe-scale* test score. A strategy can
win there by exploiting the probe itself: a small pool of homogeneous rows trained for 200 steps is
seen more epochs than a larger one, so narrow pools score well at probe scale whatever they would do
with more data and a wider model. This script takes the finished searches of `search_quality.py` (same
root, scenario, budget, test seeds and search code; it never runs a search) and trains each strategy's
final recipe again at the scale-up of `recipelab transfer` (`transfer.scaled_spec`: train size and steps
x ``--data-scale``, capped at what the recipe keeps; model width x ``--model-scale``), on the test split,
with the same test seeds for every strategy of a search seed (seed*1000 + k) so they pair. The no-filter
pool and the oracle (the best pool the truth allows) are trained the same way, so "gap closed at scale"
means what it means in `search_quality.py`.

Resumable: every scale-up score is written to the results JSON as soon as it is measured, keyed by what
it trained (the ids kept and the spec), and reused by a later invocation.

Run by hand (about 75 s per scale-up probe on one core of the 2-core machine):
`python benchmarks/strategy_transfer.py --scenario no-mismatch --seeds 5 --test-seeds 4 --root /work/sq-root`.
Writes benchmarks/results/strategy_transfer_<scenario>.{json,md}.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import search_quality as sq  # noqa: E402  (the searches, their configs and the commit helpers)

from recipelab.agent.space import PoolSpace  # noqa: E402
from recipelab.agent.transfer import scaled_spec  # noqa: E402
from recipelab.config import SearchConfig  # noqa: E402
from recipelab.data.benchmark import oracle_ids  # noqa: E402
from recipelab.evidence import compare  # noqa: E402
from recipelab.executors import ProbeEnv, ProbeEnvConfig  # noqa: E402
from recipelab.memory import Memory  # noqa: E402
from recipelab.recipes import Recipe  # noqa: E402
from recipelab.trainers.base import ProbeSpec  # noqa: E402
from recipelab.workspace import Workspace  # noqa: E402

RESULTS = Path(__file__).parent / "results"


@dataclass
class Job:
    """One pool to train at scale: a strategy's final recipe (``row``: its results row) or a reference pool."""

    seed: int  # the search seed; its test seeds are seed*1000 + k
    label: str
    ids: list[str]
    row: dict[str, Any] | None = None

    @functools.cached_property
    def fp(self) -> str:
        """What the pool trains on, whatever recipe kept it: the key of its cached scores."""
        return hashlib.sha256("\n".join(sorted(self.ids)).encode()).hexdigest()[:16]


def final_recipe(mem: Memory, run_id: str) -> Recipe | None:
    """The recipe the run's end game scored on the test split (what the user would get)."""
    for e in mem.experiments(run_id, status="done", purpose="test:final"):
        if e.get("recipe"):  # the memory decodes it
            return Recipe.from_dj(e["recipe"], source=f"run {run_id}")
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="no-mismatch")
    ap.add_argument("--root", type=Path, default=Path(".recipelab-sq"))
    ap.add_argument("--seeds", type=int, default=5, help="search seeds (0..N-1)")
    ap.add_argument("--budget", type=int, default=24)
    ap.add_argument("--test-seeds", type=int, default=4, help="the searches' own --test-seeds (finds the runs)")
    ap.add_argument("--strategies", default="agent,optuna")
    ap.add_argument("--scale-seeds", type=int, default=2, help="scale-up test seeds per recipe")
    ap.add_argument("--data-scale", type=float, default=2.0)
    ap.add_argument("--model-scale", type=float, default=2.0)
    ap.add_argument("--no-reference", action="store_true", help="skip the no-filter and oracle pools")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or RESULTS / f"strategy_transfer_{args.scenario.replace('-', '_')}"
    jpath = out.with_suffix(".json")
    doc: dict[str, Any] = json.loads(jpath.read_text()) if jpath.exists() else {}
    scores: dict[str, float] = doc.get("scores", {})
    sha = sq.commit()
    ws = Workspace.open(args.root / "ws")
    mem = Memory(ws.memory_path)
    bench = sq.bench_dir(args.root, args.scenario, None)
    strategies = args.strategies.split(",")

    # Every (search seed, strategy) with its finished run and final recipe.
    found: list[tuple[int, str, SearchConfig, dict[str, Any], Recipe]] = []
    for seed in range(args.seeds):
        for strategy in strategies:
            cfg = sq.search_config(bench, strategy, seed, args.budget, args.test_seeds)
            run = sq.find_run(mem, cfg, sha)
            if run is None or run["status"] != "done":
                print(f"[{strategy} seed {seed}] no finished search with this search code: skipped", flush=True)
                continue
            recipe = final_recipe(mem, run["id"])
            if recipe is None:
                print(f"[{strategy} seed {seed}] run {run['id']} has no test:final recipe: skipped", flush=True)
                continue
            found.append((seed, strategy, cfg, run, recipe))
    if not found:
        sys.exit("no finished searches found: run benchmarks/search_quality.py with the same options first")
    cfg0, run0 = found[0][2], found[0][3]
    env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg0, ws, run0["id"]), quiet=True)
    # Only the ops of the final recipes (their stats are cached since the searches), as `transfer_run` does.
    ops = sorted({op.name for *_, recipe in found for op in recipe.process})
    space = PoolSpace(env.pool, ws.stats_cache(), ops=ops, quiet=True)
    base = {"task": cfg0.task, "train_size": max(64, len(env.pool) // 3), **cfg0.probe.spec_overrides()}
    spec, about = scaled_spec(base, args.data_scale, args.model_scale)
    spec_fp = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    def key(job: Job, k: int) -> str:
        return f"{job.fp}:{spec_fp}:{job.seed * 1000 + k}"

    # The jobs: each final recipe's kept ids (row: its results row), and the reference pools per seed.
    rows: list[dict[str, Any]] = []
    jobs: list[Job] = []
    for seed, strategy, _, run, recipe in found:
        ids = [env.pool.samples[i].id for i in space.apply(recipe).kept_indices]
        rows.append(
            {"seed": seed, "strategy": strategy, "run_id": run["id"], "commit": (run.get("config") or {}).get(
                "bench_commit"), "recipe": recipe.describe(), "kept": len(ids),
             "probe_test": sq.test_values(mem, run["id"])["final"]}
        )  # fmt: skip
        jobs.append(Job(seed, strategy, ids, rows[-1]))
    if not args.no_reference:
        every = [s.id for s in env.pool.samples]
        keep = set(oracle_ids(bench))
        clean = [s.id for s in env.pool.samples if s.id in keep]
        for seed in sorted({j.seed for j in jobs}):
            jobs += [Job(seed, "no filter", every), Job(seed, "oracle", clean)]
    todo = [(job, k) for k in range(args.scale_seeds) for job in jobs if key(job, k) not in scores]
    print(f"{len(todo)} scale-up probe(s) to run ({spec['steps']} steps, up to {spec['train_size']} samples)")
    for n, (job, k) in enumerate(todo, 1):
        t0 = time.time()
        seed = job.seed * 1000 + k
        size = min(int(spec["train_size"]), len(job.ids))
        ps = ProbeSpec(**{**spec, "train_ids": job.ids, "train_size": size, "seed": seed})
        fitted = env.trainer.fit(ps, env.pool.samples)
        metrics, _, _ = env.trainer.evaluate(fitted, env.splits["test"].samples)
        scores[key(job, k)] = float(metrics[ps.primary_metric])
        doc.update({"scores": scores})
        jpath.parent.mkdir(parents=True, exist_ok=True)
        jpath.write_text(json.dumps(doc, indent=1))
        print(f"[{n}/{len(todo)}] {job.label} seed {job.seed} test seed {seed}: "
              f"{metrics[ps.primary_metric]:.4f} ({time.time() - t0:.0f} s)", flush=True)  # fmt: skip

    def at_scale(job: Job) -> dict[int, float]:
        return {job.seed * 1000 + k: scores[key(job, k)] for k in range(args.scale_seeds) if key(job, k) in scores}

    refs = {(j.seed, j.label): at_scale(j) for j in jobs if j.row is None}
    for job in jobs:
        if job.row is None:
            continue
        r = job.row
        r["scale_test"] = at_scale(job)
        nf, orc = refs.get((job.seed, "no filter"), {}), refs.get((job.seed, "oracle"), {})
        r["scale_no_filter"], r["scale_oracle"] = nf, orc
        m, b, o = (float(np.mean(list(x.values()))) if x else None for x in (r["scale_test"], nf, orc))
        r["scale_gap_closed"] = (m - b) / (o - b) if None not in (m, b, o) and o > b else None  # type: ignore[operator]
    doc.update({"format": 1, "commit": sha, "scenario": args.scenario, "scale": about, "spec_fp": spec_fp,
                "scale_seeds": args.scale_seeds, "rows": rows})  # fmt: skip
    jpath.write_text(json.dumps(doc, indent=1))
    write_md(doc, out.with_suffix(".md"), strategies, args)


def _ms(xs: list[float]) -> str:
    return f"{np.mean(xs):.4f} ± {np.std(xs, ddof=1):.4f}" if len(xs) > 1 else (f"{xs[0]:.4f}" if xs else "—")


def write_md(doc: dict[str, Any], path: Path, strategies: list[str], args: argparse.Namespace) -> None:
    rows = doc["rows"]
    sc = doc["scale"]
    lines = [
        f"# Strategies' final recipes at a larger scale: {doc['scenario']}",
        "",
        f"Written by `benchmarks/strategy_transfer.py` at commit {doc['commit']} (one invocation); searches from "
        f"`search_quality.py` (commits: {', '.join(sorted({str(r['commit']) for r in rows}))}), budget {args.budget}. "
        f"Scale-up: train size {sc['probe_train_size']} -> {sc['train_size']} (capped at what a recipe keeps), steps "
        f"{sc['probe_steps']} -> {sc['steps']}, model width x{sc['model_scale']}; {doc['scale_seeds']} test seed(s) "
        "per recipe (seed*1000+k, the same for every strategy of a search seed). Probe scale: the search's own "
        "end-game test scores. Metric: the probe's primary metric on the test split.",
        "",
        "| strategy | seeds | kept (mean) | probe-scale test | scale-up test | scale-up gap closed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by = {s: [r for r in rows if r["strategy"] == s and r.get("scale_test")] for s in strategies}
    for s, rs in by.items():
        if not rs:
            continue
        gaps = [r["scale_gap_closed"] for r in rs if r["scale_gap_closed"] is not None]
        lines.append(
            f"| {s} | {len(rs)} | {np.mean([r['kept'] for r in rs]):.0f} "
            f"| {_ms([float(np.mean(list(r['probe_test'].values()))) for r in rs])} "
            f"| {_ms([float(np.mean(list(r['scale_test'].values()))) for r in rs])} "
            f"| {_ms(gaps) if gaps else '—'} |"
        )
    refs = [r for r in rows if r.get("scale_no_filter")]
    if refs:
        seen: dict[int, dict[str, Any]] = {r["seed"]: r for r in refs}
        nf = [float(np.mean(list(r["scale_no_filter"].values()))) for r in seen.values()]
        orc = [float(np.mean(list(r["scale_oracle"].values()))) for r in seen.values() if r["scale_oracle"]]
        lines.append(f"| (no filter) | {len(nf)} | — | — | {_ms(nf)} | 0 |")
        if orc:
            lines.append(f"| (oracle) | {len(orc)} | — | — | {_ms(orc)} | 1 |")
    lines += ["", "| paired difference | at | seeds | mean | 90% interval | verdict |", "|---|---|---:|---:|---|---|"]
    a = strategies[0]
    for b in strategies[1:]:
        for at, key in (("probe scale", "probe_test"), ("scale-up", "scale_test")):
            pa = {r["seed"]: {int(k): v for k, v in r[key].items()} for r in by[a]}
            pb = {r["seed"]: {int(k): v for k, v in r[key].items()} for r in by[b]}
            c = compare(pa, pb)
            if c is None:
                continue
            lines.append(
                f"| {a} − {b} | {at} | {c.n} | {c.mean:+.4f} | [{c.lo:+.4f}, {c.hi:+.4f}] "
                f"| {c.verdict.replace('A', a).replace('B', b)} |"
            )
    lines += ["", "| strategy | seed | kept | probe-scale test | scale-up test | recipe |"]
    lines += ["|---|---:|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: (r["strategy"], r["seed"])):
        st = r.get("scale_test") or {}
        lines.append(
            f"| {r['strategy']} | {r['seed']} | {r['kept']} | {np.mean(list(r['probe_test'].values())):.4f} "
            f"| {np.mean(list(st.values())):.4f} | {r['recipe']} |"
            if st
            else f"| {r['strategy']} | {r['seed']} | {r['kept']} | — | — | {r['recipe']} |"
        )
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
