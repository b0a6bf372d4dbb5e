"""Benchmark calibration: does data quality move the probe metric far more than seed noise does?

Trains no-filter, oracle (the clean pool, from truth) and random-subset (as many samples as the oracle
pool, drawn from the noisy pool) probes over several seeds, each model scored on eval and test. This is
the one place besides benchmark scoring that reads ``truth.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.data.benchmark import oracle_ids
from recipelab.executors import ProbeEnv, ProbeEnvConfig
from recipelab.memory import Memory
from recipelab.progress import progress_iter
from recipelab.trainers.base import ProbeSpec
from recipelab.workspace import Workspace

CONDITIONS = ("no_filter", "oracle", "random")


@dataclass
class Calibration:
    train_size: int
    seeds: int
    results: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # cond -> split -> values
    wall_s: list[float] = field(default_factory=list)
    #: every metric the probe reports: cond -> split -> metric -> values (to choose a primary metric)
    metrics: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    primary_metric: str = ""

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
        out["primary_metric"] = self.primary_metric
        out["per_metric"] = self.per_metric()
        return out

    def per_metric(self, split: str = "test") -> dict[str, dict[str, float]]:
        """For every metric: oracle and no-filter means, (oracle - no filter) / larger seed std, and the same
        paired by seed (mean / sd of the per-seed differences). Signed: a lower-is-better metric that
        separates has a negative ratio."""
        o = self.metrics.get("oracle", {}).get(split, {})
        n = self.metrics.get("no_filter", {}).get(split, {})
        r = self.metrics.get("random", {}).get(split, {})
        out: dict[str, dict[str, float]] = {}
        for m in sorted(set(o) & set(n)):
            a, b = np.array(o[m], dtype=float), np.array(n[m], dtype=float)
            k = min(len(a), len(b))
            if k == 0:
                continue
            sd = max(float(a.std(ddof=1)) if len(a) > 1 else 0.0, float(b.std(ddof=1)) if len(b) > 1 else 0.0)
            d = a[:k] - b[:k]
            dsd = float(d.std(ddof=1)) if k > 1 else 0.0
            out[m] = {
                "oracle": float(a.mean()),
                "no_filter": float(b.mean()),
                **({"random": float(np.mean(r[m]))} if r.get(m) else {}),
                "gap_over_std": float((a.mean() - b.mean()) / max(sd, 1e-9)),
                "paired_gap_over_sd": float(d.mean() / max(dsd, 1e-9)),
            }
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
    task: str = "clip",
    device: str | None = None,
) -> Calibration:
    import time

    bench_dir = Path(bench_dir)
    env = ProbeEnv.from_config(
        ProbeEnvConfig(
            cache_dir=str(cache_dir),
            data=str(bench_dir / "pool.jsonl"),
            eval=str(bench_dir / "eval.jsonl"),
            test=str(bench_dir / "test.jsonl"),
            task=task,
            device=device,
            tokenizer_path=str(Path(cache_dir) / f"tokenizer-{bench_dir.name}.json"),
        ),
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
        spec = ProbeSpec(task=task, train_ids=ids, train_size=S, seed=k, **extra)
        # a task with its own defaults (e.g. caption: steps, primary metric) says which apply
        spec = trainer.resolve_spec(spec) if hasattr(trainer, "resolve_spec") else spec
        t0 = time.perf_counter()
        fitted = trainer.fit(spec, env.pool.samples)
        cal.primary_metric = spec.primary_metric
        for split in ("eval", "test"):
            metrics, _, _ = trainer.evaluate(fitted, env.splits[split].samples)
            cal.results[cond][split].append(float(metrics[spec.primary_metric]))
            per = cal.metrics.setdefault(cond, {}).setdefault(split, {})
            for name, value in metrics.items():
                per.setdefault(name, []).append(float(value))
        cal.wall_s.append(time.perf_counter() - t0)
    return cal


def score_run(
    ws: Workspace, memory: Memory, run_id: str, bench_dir: str | Path, quiet: bool = False, env: Any = None
) -> dict[str, Any]:
    """Gap closed by a finished run on the test split: (final - no_filter) / (oracle - no_filter).

    The oracle (the clean pool from truth) is trained with the run's own probe settings and test seeds,
    so the three numbers are comparable; this is benchmark scoring, the only reader of truth besides
    calibration. The score is written to the run's folder (``bench_score.json``) and its log.
    """
    from recipelab.agent.loop import resume_config

    bench_dir = Path(bench_dir)
    run = memory.get_run(run_id)
    if run is None:
        raise ValueError(f"no run {run_id!r}; see `recipelab runs`")
    if not (bench_dir / "truth.jsonl").exists():
        raise ValueError(f"{bench_dir}: no truth.jsonl (make one with `recipelab bench make --out {bench_dir}`)")
    cfg = resume_config(memory, run_id)
    test = (run.get("summary") or {}).get("test") or {}
    if not test.get("final", {}).get("mean") or not test.get("baseline", {}).get("mean"):
        raise ValueError(f"run {run_id} has no test-split result (run it with --test and --test-seeds >= 1)")
    if env is None:  # (tests give a synthetic env with the same interface)
        env = ProbeEnv.from_config(ProbeEnvConfig.for_run(cfg, ws, run_id), quiet=quiet)
    clean = set(oracle_ids(bench_dir))
    oracle = [s.id for s in env.pool.samples if s.id in clean]
    size = cfg.probe.train_size or max(64, len(env.pool) // 3)
    vals = []
    for k in range(int(test["final"].get("seeds") or 1)):
        spec = ProbeSpec(
            task=cfg.task, train_ids=oracle, train_size=size, seed=cfg.seed * 1000 + k, **cfg.probe.spec_overrides()
        )
        vals.append(env.run(spec, "test").primary)
    res = gap_closed(float(test["final"]["mean"]), float(test["baseline"]["mean"]), vals)
    res = {"run_id": run_id, **res}
    ws.bench_score_path(run_id).parent.mkdir(parents=True, exist_ok=True)
    ws.bench_score_path(run_id).write_text(json.dumps(res, indent=2))
    memory.log_event(run_id, "info", f"benchmark score: gap closed {res['gap_closed']:.2f}", res)
    return res


def gap_closed(final: float, no_filter: float, oracle_vals: list[float]) -> dict[str, Any]:
    """(final - no filter) / (oracle - no filter); NaN when the oracle does not beat no filter."""
    o = float(np.mean(oracle_vals))
    gap = (final - no_filter) / (o - no_filter) if o > no_filter else float("nan")
    return {
        "final": final,
        "no_filter": no_filter,
        "oracle": o,
        "oracle_std": float(np.std(oracle_vals, ddof=1)) if len(oracle_vals) > 1 else None,
        "seeds": len(oracle_vals),
        "gap_closed": gap,
    }
