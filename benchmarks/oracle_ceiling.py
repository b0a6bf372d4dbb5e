"""Is the benchmark's oracle a ceiling? Probes the oracle pool against truth-based variants of it.

Search strategies scored above the oracle (gap closed > 1) on some scenarios. This measures why: the default
`clip` probe (the search's settings: train size a third of the pool) on the test split, over seeds, for
- ``no_filter`` (the whole pool) and ``oracle`` (clean rows, traps included, duplicate captions collapsed:
  what `bench score` uses);
- ``oracle_minus_traps``: the oracle without the careless-filter traps (clean but unusual rows);
- ``oracle_minus_<kind>``: without one trap kind;
- with ``--stats FILE --stat NAME`` (rows written by `recipelab apply ... --export-stats`):
  ``oracle_top_half_<NAME>``, the clean rows above the clean rows' median of that stat (e.g. the proxy
  CLIP's image-text similarity: the most typical, easiest pairs), against ``oracle_random_half``, a seeded
  random half of the same clean rows: does an easy half train a probe faster than a random one?
with the paired difference (same seeds) of each variant against the oracle and a 90% t interval.

Run by hand: `python benchmarks/oracle_ceiling.py BENCH_DIR [BENCH_DIR ...] --seeds 4`.
Writes benchmarks/results/oracle_ceiling.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from recipelab.data.benchmark import oracle_ids
from recipelab.data.benchmark.truth import load_truth_rows
from recipelab.executors import ProbeEnv, ProbeEnvConfig
from recipelab.trainers.base import ProbeSpec

RESULTS = Path(__file__).parent / "results" / "oracle_ceiling"


def pools(
    bench: Path, all_ids: list[str], stat: dict[str, float] | None = None, name: str = ""
) -> dict[str, list[str]]:
    oracle = oracle_ids(bench)
    rows = {r.id: r for r in load_truth_rows(bench)}
    out = {"no_filter": all_ids, "oracle": oracle}
    traps = {i for i in oracle if rows[i].careless_trap}
    if traps:
        out["oracle_minus_traps"] = [i for i in oracle if i not in traps]
        for kind in sorted({rows[i].trap_kind for i in traps}):
            out[f"oracle_minus_{kind}"] = [i for i in oracle if rows[i].trap_kind != kind]
    if stat:
        scored = [i for i in oracle if i in stat]
        median = float(np.median([stat[i] for i in scored]))
        out[f"oracle_top_half_{name}"] = [i for i in scored if stat[i] > median]
        pick = np.random.default_rng(11).permutation(len(scored))[: len(scored) // 2]
        out["oracle_random_half"] = [scored[k] for k in sorted(pick)]
    return out


def read_stat(path: Path, name: str) -> dict[str, float]:
    """id -> the first value of stat ``name`` in a JSONL written with --export-stats."""
    out = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        v = (row.get("__dj__stats__") or {}).get(name)
        if v is not None:
            out[row["id"]] = float(v[0] if isinstance(v, list) else v)
    return out


def measure(
    bench: Path, cache: Path, seeds: int, stat: dict[str, float] | None, stat_name: str, only: set[str] | None
) -> dict[str, Any]:
    env = ProbeEnv.from_config(
        ProbeEnvConfig(
            cache_dir=str(cache),
            data=str(bench / "pool.jsonl"),
            eval=str(bench / "eval.jsonl"),
            test=str(bench / "test.jsonl"),
            tokenizer_path=str(cache / f"tokenizer-{bench.name}.json"),
        ),
        quiet=True,
    )
    all_ids = [s.id for s in env.pool.samples]
    size = max(64, len(all_ids) // 3)
    out: dict[str, Any] = {"bench": bench.name, "train_size": size, "pools": {}}
    for name, ids in pools(bench, all_ids, stat, stat_name).items():
        if only and name not in only and name != "oracle":
            continue
        vals = []
        for k in range(seeds):
            t0 = time.perf_counter()
            res = env.run(ProbeSpec(train_ids=ids, train_size=size, seed=k), "test")
            vals.append(res.primary)
            print(f"{bench.name} {name} seed {k}: {res.primary:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        out["pools"][name] = {"kept": len(ids), "values": vals}
    base = np.array(out["pools"]["oracle"]["values"])
    for p in out["pools"].values():
        d = np.array(p["values"]) - base
        p["mean"], p["sd"] = float(np.mean(p["values"])), float(np.std(p["values"], ddof=1))
        half = float(stats.t.ppf(0.95, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
        p["minus_oracle"] = {"mean": float(d.mean()), "lo": float(d.mean() - half), "hi": float(d.mean() + half)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("benches", nargs="+", type=Path)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--cache", type=Path, default=Path(".recipelab-oracle-ceiling"))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--stats", type=Path, help="JSONL from `recipelab apply ... --export-stats`")
    ap.add_argument("--stat", default="image_text_similarity")
    ap.add_argument("--pools", help="comma-separated pool names to measure (the oracle always is)")
    args = ap.parse_args()
    stat = read_stat(args.stats, args.stat) if args.stats else None
    only = set(args.pools.split(",")) if args.pools else None
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    doc = {
        "commit": sha,
        "seeds": args.seeds,
        "benches": [measure(b, args.cache, args.seeds, stat, args.stat, only) for b in args.benches],
    }
    args.out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Is the oracle a ceiling? Truth-based pools on the test split",
        "",
        f"Commit {sha}. Written by `benchmarks/oracle_ceiling.py` (one invocation). Default `clip` probe, train size "
        f"a third of the pool, {args.seeds} seeds (the same for every pool), test split mean recall@1. Paired "
        "difference against the oracle with a 90% t interval.",
    ]
    for b in doc["benches"]:
        lines += ["", f"## {b['bench']} (train size {b['train_size']})", ""]
        lines += ["| pool | kept | test (mean ± sd) | minus oracle (90% interval) |", "|---|---:|---:|---|"]
        for name, p in b["pools"].items():
            m = p["minus_oracle"]
            diff = "" if name == "oracle" else f"{m['mean']:+.4f} [{m['lo']:+.4f}, {m['hi']:+.4f}]"
            lines.append(f"| {name} | {p['kept']} | {p['mean']:.4f} ± {p['sd']:.4f} | {diff} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
