"""Operator throughput on a 10k image-text pool (64 px), cold and warm; recipe apply time on cached stats.

Run by hand: `python benchmarks/ops_throughput.py [--size 10000] [--workers 2]`.
Writes benchmarks/results/ops_throughput.md. Targets (issue 2): all offline ops over 10k 64-px samples
under 20 s cold on 2 cores (proxy CLIP excluded), under 1 s warm; apply a recipe under 50 ms.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from recipelab.data.benchmark import make_benchmark
from recipelab.data.reader import read_dataset
from recipelab.operators.registry import all_ops, create_op
from recipelab.operators.stats import StatsCache, compute_pipeline_stats
from recipelab.recipes import Recipe, apply_ops

RECIPE = """process:
  - text_length_filter: {min_len: 10, max_len: 400}
  - special_characters_filter: {max_ratio: 0.3}
  - word_repetition_filter: {rep_len: 1, max_ratio: 0.5}
  - image_aspect_ratio_filter: {min_ratio: 0.5, max_ratio: 2.0}
  - image_shape_filter: {min_width: 24, min_height: 24}
  - image_entropy_filter: {min_entropy: 1.0}
  - image_sharpness_filter: {min_sharpness: 10}
  - image_text_similarity_filter: {min_score: 0.05}
  - image_deduplicator: {}
  - document_deduplicator: {}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ops_throughput.md")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsbench-"))
    try:
        make_benchmark(tmp / "bench", size=args.size, n_eval=50, n_test=50, seed=0)
        t0 = time.perf_counter()
        ds = read_dataset(tmp / "bench" / "pool.jsonl", quiet=True, cache_dir=tmp / "dscache")
        read_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        read_dataset(tmp / "bench" / "pool.jsonl", quiet=True, cache_dir=tmp / "dscache")
        read_warm = time.perf_counter() - t0
        names = [n for n, c in all_ops().items() if c.kind != "mapper"]
        offline = [n for n in names if n != "image_text_similarity_filter"]
        rows = []
        for name in names:
            op = create_op(name)
            cache_dir = tmp / f"cache-{name}"
            t0 = time.perf_counter()
            compute_pipeline_stats(
                [op], ds.samples, ds.fingerprint, StatsCache(cache_dir), workers=args.workers, quiet=True
            )
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            c2 = StatsCache(cache_dir)
            compute_pipeline_stats([op], ds.samples, ds.fingerprint, c2, workers=args.workers, quiet=True)
            warm = time.perf_counter() - t0
            assert c2.misses == 0
            rows.append((name, cold, warm))
        # all offline ops together, one cache (what `recipelab analyze` does)
        all_dir = tmp / "cache-all"
        ops = [create_op(n) for n in offline]
        t0 = time.perf_counter()
        compute_pipeline_stats(ops, ds.samples, ds.fingerprint, StatsCache(all_dir), workers=args.workers, quiet=True)
        all_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        compute_pipeline_stats(ops, ds.samples, ds.fingerprint, StatsCache(all_dir), workers=args.workers, quiet=True)
        all_warm = time.perf_counter() - t0
        # apply a recipe to cached stats
        rec = Recipe.from_yaml(RECIPE)
        rops = rec.build_ops()
        cache = StatsCache(tmp / "cache-recipe")
        stats = compute_pipeline_stats(rops, ds.samples, ds.fingerprint, cache, workers=args.workers, quiet=True)
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            res = apply_ops(rops, stats, len(ds))
            times.append(time.perf_counter() - t0)
        apply_ms = statistics.median(times) * 1000
        # baseline for ratios measured in the same run: decoding every image once with PIL
        from PIL import Image

        t0 = time.perf_counter()
        for s in ds.samples:
            with Image.open(s.images[0]) as im:
                im.load()
        decode = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = len(ds)
    lines = [
        "# Operator throughput",
        "",
        f"{n} image-text samples (64 px PNG, the built-in benchmark), {args.workers} worker processes, "
        f"{platform.processor() or platform.machine()}, python {platform.python_version()}.",
        f"Same-run baseline: decoding every image once with PIL took {decode:.2f} s ({n / decode:,.0f} img/s); "
        "the ratio column is an op's cold time over that.",
        "",
        "| op | cold s | samples/s cold | warm s | cold / PIL decode |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, cold, warm in rows:
        lines.append(f"| {name} | {cold:.2f} | {n / cold:,.0f} | {warm:.3f} | {cold / decode:.2f} |")
    lines += [
        "",
        f"**All offline ops together (proxy CLIP excluded), cold: {all_cold:.1f} s** (target < 20 s); "
        f"**warm: {all_warm:.2f} s** (target < 1 s).",
        f"Reading + validating the pool (every image decoded, hashed): {read_cold:.1f} s cold, "
        f"{read_warm:.2f} s warm (validation cached by file size and mtime).",
        f"**Applying a {len(rops)}-op recipe to cached stats: {apply_ms:.1f} ms** median of 30 (target < 50 ms); "
        f"kept {res.n_kept} of {n}.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
