"""Benchmark calibration: does data quality move the probe metric far more than seed noise does?

Trains no-filter, oracle (the clean pool, from truth) and random-subset (as many samples as the oracle
pool, drawn from the noisy pool) probes over several seeds, each model scored on eval and test. This is
the one place besides benchmark scoring that reads ``truth.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.agent.probe_env import ProbeEnv
from recipelab.data.benchmark import oracle_ids
from recipelab.progress import progress_iter
from recipelab.trainers.base import ProbeSpec

CONDITIONS = ("no_filter", "oracle", "random")


@dataclass
class Calibration:
    train_size: int
    seeds: int
    results: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # cond -> split -> values
    wall_s: list[float] = field(default_factory=list)

    def stat(self, cond: str, split: str) -> tuple[float, float]:
        v = np.array(self.results[cond][split], dtype=float)
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    def ratio(self, split: str = "test") -> float:
        """(oracle - no_filter) / larger seed std: the benchmark is right when this is >= 5."""
        (mo, so), (mn, sn) = self.stat("oracle", split), self.stat("no_filter", split)
        return (mo - mn) / max(so, sn, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "train_size": self.train_size,
            "seeds": self.seeds,
            "median_probe_s": float(np.median(self.wall_s)) if self.wall_s else None,
        }
        for c in CONDITIONS:
            if not self.results[c]["eval"]:
                continue
            out[c] = {
                s: {"mean": self.stat(c, s)[0], "std": self.stat(c, s)[1], "values": self.results[c][s]}
                for s in self.results[c]
            }
        for s in ("eval", "test"):
            if s in self.results["oracle"]:
                out[f"gap_over_std_{s}"] = self.ratio(s)
        return out


def calibrate(
    bench_dir: str | Path,
    cache_dir: str | Path,
    seeds: int = 3,
    steps: int | None = None,
    train_size: int | None = None,
    quiet: bool = False,
    overrides: dict[str, Any] | None = None,
    conditions: tuple[str, ...] = CONDITIONS,
) -> Calibration:
    import time

    bench_dir = Path(bench_dir)
    env = ProbeEnv.from_config(
        {
            "cache_dir": str(cache_dir),
            "data": str(bench_dir / "pool.jsonl"),
            "eval": str(bench_dir / "eval.jsonl"),
            "test": str(bench_dir / "test.jsonl"),
            "tokenizer_path": str(Path(cache_dir) / f"tokenizer-{bench_dir.name}.json"),
        },
        quiet=quiet,
    )
    all_ids = [s.id for s in env.pool.samples]
    clean = set(oracle_ids(bench_dir))
    oracle = [i for i in all_ids if i in clean]
    S = train_size or max(64, len(all_ids) // 3)
    cal = Calibration(train_size=S, seeds=seeds, results={c: {"eval": [], "test": []} for c in CONDITIONS})
    jobs = [(c, k) for k in range(seeds) for c in conditions]
    trainer = env.trainer
    for cond, k in progress_iter(jobs, total=len(jobs), desc="calibrate", quiet=quiet or len(jobs) < 2):
        if cond == "no_filter":
            ids = all_ids
        elif cond == "oracle":
            ids = oracle
        else:
            rng = np.random.default_rng([k, 7])
            ids = list(rng.choice(all_ids, size=len(oracle), replace=False))
        extra = {**(overrides or {}), **({"steps": steps} if steps else {})}
        spec = ProbeSpec(train_ids=ids, train_size=S, seed=k, **extra)
        t0 = time.perf_counter()
        fitted = trainer.fit(spec, env.pool.samples)
        for split in ("eval", "test"):
            metrics, _, _ = trainer.evaluate(fitted, env.splits[split].samples)
            cal.results[cond][split].append(float(metrics[spec.primary_metric]))
        cal.wall_s.append(time.perf_counter() - t0)
    return cal


def score_run(run: dict[str, Any], bench_dir: str | Path, cache_dir: str | Path, quiet: bool = False) -> dict[str, Any]:
    """Gap closed by a finished run on the test split: (final - no_filter) / (oracle - no_filter).

    The oracle (the clean pool from truth) is trained with the run's own probe settings and test seeds,
    so the three numbers are comparable; this is benchmark scoring, the only reader of truth besides
    calibration.
    """
    from recipelab.config import SearchConfig

    bench_dir = Path(bench_dir)
    cfg = SearchConfig(**run["config"])
    summary = run.get("summary") or {}
    test = summary.get("test") or {}
    if not test.get("final", {}).get("mean") or not test.get("baseline", {}).get("mean"):
        raise ValueError(f"run {run['id']} has no test-split result (run it with --test and --test-seeds >= 1)")
    env = ProbeEnv.from_config(
        {
            "cache_dir": str(cache_dir),
            "data": cfg.data,
            "eval": cfg.eval,
            "test": cfg.test,
            "tokenizer_path": str(Path(cache_dir).parent / "runs" / run["id"] / "tokenizer.json"),
            "image_size": cfg.probe.image_size,
            "checkpoint": cfg.probe.checkpoint,
        },
        quiet=quiet,
    )
    clean = set(oracle_ids(bench_dir))
    oracle = [s.id for s in env.pool.samples if s.id in clean]
    size = cfg.probe.train_size or max(64, len(env.pool) // 3)
    vals = []
    for k in range(int(test["final"].get("seeds") or 1)):
        spec = ProbeSpec(train_ids=oracle, train_size=size, seed=cfg.seed * 1000 + k, **cfg.probe.spec_overrides())
        vals.append(env.run(spec, "test").primary)
    o = float(np.mean(vals))
    f, b = float(test["final"]["mean"]), float(test["baseline"]["mean"])
    gap = (f - b) / (o - b) if o > b else float("nan")
    return {
        "run_id": run["id"],
        "final": f,
        "no_filter": b,
        "oracle": o,
        "oracle_std": float(np.std(vals, ddof=1)) if len(vals) > 1 else None,
        "seeds": len(vals),
        "gap_closed": gap,
    }
