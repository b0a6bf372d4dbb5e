"""The built-in noisy benchmark: flat coloured shapes with captions, known corruptions, truth kept apart.

`make_benchmark(out_dir)` writes pool.jsonl (noisy), eval.jsonl / test.jsonl (clean, with `labels`),
truth.jsonl (pool id -> label), README.md, info.json and images/{pool,eval,test}/*.png.
"""

from recipelab.data.benchmark.generate import (
    CLEAN,
    FAMILIES,
    TRAPS,
    BenchmarkInfo,
    CorruptionRates,
    TruthRow,
    load_truth,
    load_truth_rows,
    make_benchmark,
    oracle_ids,
    trap_ids,
    zero_shot_prompt,
)
from recipelab.data.benchmark.scene import ATTRIBUTES

__all__ = [
    "ATTRIBUTES",
    "CLEAN",
    "FAMILIES",
    "TRAPS",
    "BenchmarkInfo",
    "CorruptionRates",
    "TruthRow",
    "load_truth",
    "load_truth_rows",
    "make_benchmark",
    "oracle_ids",
    "trap_ids",
    "zero_shot_prompt",
]
