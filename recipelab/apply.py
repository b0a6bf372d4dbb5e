"""Apply a recipe to a whole dataset: stats (cached), masks, mapped texts, per-sample exported stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recipelab.data.reader import Dataset
from recipelab.data.sample import Sample
from recipelab.operators.base import Filter, Mapper, Stats
from recipelab.operators.stats import StatsCache, compute_pipeline_stats, map_samples
from recipelab.recipes import ApplyResult, Recipe, apply_ops


@dataclass
class DatasetApplyResult:
    result: ApplyResult
    kept_samples: list[Sample]
    sample_stats: list[dict[str, Any]] = field(default_factory=list)


def recipe_stats(
    recipe: Recipe, ds: Dataset, cache: StatsCache, workers: int = 1, quiet: bool = False
) -> list[Stats | None]:
    return compute_pipeline_stats(recipe.build_ops(), ds.samples, ds.fingerprint, cache, workers=workers, quiet=quiet)


def _stat_value(st, i: int) -> Any:  # noqa: ANN001
    if st.offsets is None:
        v = st.values[i]
        return v.item() if isinstance(v, np.generic) else v
    return [x.item() for x in st.values[st.offsets[i] : st.offsets[i + 1]]]


def apply_recipe_to_dataset(
    recipe: Recipe, ds: Dataset, cache: StatsCache, workers: int = 1, quiet: bool = False, with_stats: bool = False
) -> DatasetApplyResult:
    ops = recipe.build_ops()
    stats = compute_pipeline_stats(ops, ds.samples, ds.fingerprint, cache, workers=workers, quiet=quiet)
    res = apply_ops(ops, stats, len(ds))
    idx = res.kept_indices
    kept = [ds.samples[i] for i in idx]
    for op in ops:  # mappers rewrite what is written out
        if isinstance(op, Mapper):
            kept = map_samples(kept, op)
    sample_stats: list[dict[str, Any]] = []
    if with_stats:
        filt = [(op, st) for op, st in zip(ops, stats, strict=True) if isinstance(op, Filter) and st is not None]
        for i in idx:
            d: dict[str, Any] = {}
            for _, st in filt:
                for k, s in st.items():
                    d[k] = _stat_value(s, int(i))
            sample_stats.append(d)
    return DatasetApplyResult(result=res, kept_samples=kept, sample_stats=sample_stats)
