"""Time the default benchmark generation (10k pool + 1k eval + 1k test at 64 px).

    python benchmarks/bench_make_speed.py [--size N] [--repeat K] [--workers W]

Writes benchmarks/results/bench_make_speed.md. Target: under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from recipelab.data.benchmark import make_benchmark

RESULTS = Path(__file__).parent / "results" / "bench_make_speed.md"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--n-eval", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None, help="default: one per CPU (at most 8)")
    args = ap.parse_args()

    times, info, disk = [], None, 0
    for _ in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="recipelab-bench-"))
        try:
            t0 = time.perf_counter()
            info = make_benchmark(tmp, size=args.size, n_eval=args.n_eval, n_test=args.n_test, workers=args.workers)
            times.append(time.perf_counter() - t0)
            disk = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    assert info is not None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    n_img = args.size + args.n_eval + args.n_test
    lines = [
        "# bench_make_speed",
        "",
        f"`make_benchmark(size={args.size}, n_eval={args.n_eval}, n_test={args.n_test}, image_size=64, "
        f"workers={args.workers})`, {args.repeat} run(s).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| wall time per run (s) | {', '.join(f'{t:.2f}' for t in times)} |",
        f"| median (s) | {statistics.median(times):.2f} |",
        f"| images per second | {n_img / statistics.median(times):.0f} |",
        f"| output size (MB) | {disk / 1e6:.1f} |",
        f"| corrupted fraction | {info.corrupted_fraction:.3f} |",
        f"| CPUs | {os.cpu_count()} |",
        f"| load average at end (1/5/15 min) | {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} |",
        f"| platform | {platform.platform()}, Python {platform.python_version()} |",
        "",
        "Target: under 30 s on 2 cores. The load average shows how busy the machine was (other jobs).",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
