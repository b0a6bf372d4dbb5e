"""Benchmark calibration with the default probe: no filter vs oracle vs random subset, eval and test.

Run by hand: `python benchmarks/calibration.py --bench DIR [--seeds 3]` (make DIR with `recipelab bench make`).
Writes benchmarks/results/calibration.md. The benchmark is right when (oracle - no filter) >= 5 x the larger
seed std on the test split.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from recipelab.calibrate import CONDITIONS, calibrate
from recipelab.trainers.base import DEFAULT_PROBE
from recipelab.trainers.clip import DEFAULT_MODEL


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=Path, required=True)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "calibration.md")
    args = ap.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="calib-"))
    t0 = time.perf_counter()
    cal = calibrate(args.bench, cache, seeds=args.seeds, quiet=True)
    d = cal.to_dict()
    lines = [
        "# Benchmark calibration (default probe)",
        "",
        f"Benchmark {args.bench} ({json.loads((args.bench / 'info.json').read_text()).get('size')} pool samples); "
        f"probe: {DEFAULT_PROBE['steps']} steps x batch {DEFAULT_PROBE['batch_size']}, "
        f"{DEFAULT_PROBE['image_size']} px, "
        f"{cal.train_size} training samples, vision tower {DEFAULT_MODEL['vision']}; {args.seeds} seeds; "
        f"primary metric mean_recall. Median probe (train + eval on eval and test) {d['median_probe_s']:.1f} s; "
        f"whole calibration {time.perf_counter() - t0:.0f} s.",
        "",
        "| pool | eval mean ± std | test mean ± std |",
        "|---|---:|---:|",
    ]
    for c in CONDITIONS:
        lines.append(
            f"| {c} | {d[c]['eval']['mean']:.4f} ± {d[c]['eval']['std']:.4f} | "
            f"{d[c]['test']['mean']:.4f} ± {d[c]['test']['std']:.4f} |"
        )
    lines += [
        "",
        f"(oracle - no filter) / larger seed std: eval {d['gap_over_std_eval']:.1f}, "
        f"**test {d['gap_over_std_test']:.1f}** (needs >= 5).",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
