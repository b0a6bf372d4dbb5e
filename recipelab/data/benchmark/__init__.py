"""The built-in noisy benchmark: flat coloured shapes with captions, known corruptions, truth kept apart.

`make_benchmark(out_dir, scenario=...)` writes pool.jsonl (noisy), eval.jsonl / test.jsonl (clean, with
`labels`), truth.jsonl (pool id -> label), README.md, info.json and images/{pool,eval,test}/*.png.
`SCENARIOS` holds the named noise mixes; `truth` the scoring side (labels, oracle pool, shares).
"""

from recipelab.data.benchmark.generate import (
    FAMILIES,
    TRAPS,
    BenchmarkInfo,
    make_benchmark,
    zero_shot_prompt,
)
from recipelab.data.benchmark.scenarios import SCENARIOS, CorruptionRates, FamilyStyle, Scenario, get_scenario
from recipelab.data.benchmark.scene import ATTRIBUTES
from recipelab.data.benchmark.truth import (
    CLEAN,
    TruthRow,
    caption_key,
    clean_ids,
    load_truth,
    load_truth_rows,
    oracle_ids,
    trap_ids,
    truth_shares,
)

__all__ = [
    "ATTRIBUTES",
    "CLEAN",
    "FAMILIES",
    "SCENARIOS",
    "TRAPS",
    "BenchmarkInfo",
    "CorruptionRates",
    "FamilyStyle",
    "Scenario",
    "TruthRow",
    "caption_key",
    "clean_ids",
    "get_scenario",
    "load_truth",
    "load_truth_rows",
    "make_benchmark",
    "oracle_ids",
    "trap_ids",
    "truth_shares",
    "zero_shot_prompt",
]
