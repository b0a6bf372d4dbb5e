"""Time the default `caption` probe on the built-in benchmark and write
benchmarks/results/caption_probe_speed.md.

One probe = what a search runs: train on a draw of a third of the 10,000-pair noisy pool (the
default train size), then caption and score the 1,000-pair eval split. The timed runs use the
caption probe's own defaults (`CAPTION_PROBE`, `DEFAULT_MODEL` in recipelab/trainers/caption.py).
Besides wall time it records CPU time / threads, which is what the wall time would be on an idle
machine when the probe is the only job (the machine this was measured on may be shared).

    python benchmarks/caption_probe_speed.py                      # 3 repeats, threads = cores allowed
    taskset -c 1 python benchmarks/caption_probe_speed.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recipelab.data.benchmark import make_benchmark  # noqa: E402
from recipelab.executors import ProbeEnv, ProbeEnvConfig  # noqa: E402
from recipelab.trainers.base import ProbeSpec, library_versions  # noqa: E402
from recipelab.trainers.caption import CAPTION_PROBE, DEFAULT_MODEL, resolve_spec  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default=os.environ.get("RECIPELAB_BENCH_DIR", "/tmp/recipelab-caption-bench"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the cores allowed)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "caption_probe_speed.md"))
    args = ap.parse_args()

    work = Path(args.workdir)
    bench = work / "bench"
    if not (bench / "truth.jsonl").exists():
        make_benchmark(bench)
    env = ProbeEnv.from_config(
        ProbeEnvConfig(
            cache_dir=str(work / "cache"),
            data=str(bench / "pool.jsonl"),
            eval=str(bench / "eval.jsonl"),
            task="caption",
            device="cpu",
            tokenizer_path=str(work / "tokenizer.json"),
        ),
        threads=args.threads,
        quiet=True,
    )
    trainer = env.trainer
    size = max(64, len(env.pool) // 3)
    spec = ProbeSpec(task="caption", train_size=size, seed=0)
    eff = resolve_spec(spec)

    env.run(ProbeSpec(task="caption", train_size=size, steps=2))  # warm-up: imports, allocator
    walls, cpus, results = [], [], []
    load0 = os.getloadavg()[0]
    for r in range(args.repeats):
        c0 = time.process_time()
        res = env.run(spec.model_copy(update={"seed": r}))
        cpus.append(time.process_time() - c0)
        walls.append(res.wall_time_s)
        results.append(res)
        print(
            f"run {r}: wall {res.wall_time_s:.1f}s (CPU {cpus[-1]:.1f}s) train {res.train_time_s:.1f}s "
            f"eval {res.eval_time_s:.1f}s cider {res.metrics['cider']:.3f}",
            flush=True,
        )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cider = [r.metrics["cider"] for r in results]
    lines = [
        "# Probe speed (default `caption` probe)",
        "",
        f"- measured at commit {commit} (plus the caption probe's files as committed with this result)",
        f"- machine: {os.cpu_count()} CPUs, {len(os.sched_getaffinity(0))} allowed to this process, "
        f"torch threads {trainer.threads}, device {trainer.device}",
        f"- versions: {library_versions()}",
        f"- data: the built-in benchmark (`recipelab bench make`), pool {len(env.pool)}, eval {results[0].eval_size}",
        f"- spec (the caption defaults): steps {eff.steps}, batch {eff.batch_size}, lr {eff.lr}, "
        f"train draw {size}, max_text_len {eff.max_text_len}, image {eff.image_size} px",
        f"- probe defaults: {CAPTION_PROBE}",
        f"- model: {DEFAULT_MODEL}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| wall time per probe (median of {args.repeats}) | {statistics.median(walls):.1f} s |",
        f"| CPU time per probe / threads (median; the wall time when the probe runs alone) "
        f"| {statistics.median(cpus) / trainer.threads:.1f} s |",
        f"| train time (median) | {statistics.median(r.train_time_s for r in results):.1f} s |",
        f"| greedy captioning + scoring of {results[0].eval_size} eval images (median) "
        f"| {statistics.median(r.eval_time_s for r in results):.1f} s |",
        f"| train samples/s (median) | {statistics.median(r.samples_per_s for r in results):.0f} |",
        f"| load average (1 min) before / after the timed runs | {load0:.2f} / {os.getloadavg()[0]:.2f} |",
        f"| cider over seeds 0..{args.repeats - 1} (no filter) | "
        f"{statistics.mean(cider):.3f} ± {statistics.stdev(cider) if len(cider) > 1 else 0:.3f} |",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
