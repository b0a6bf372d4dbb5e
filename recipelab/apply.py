"""Apply a recipe to a whole dataset: stats (cached), masks, mapped texts, per-sample exported stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recipelab.data.reader import Dataset
from recipelab.data.sample import Sample
from recipelab.operators.base import Filter, Mapper, Stats
from recipelab.operators.stats import StatsCache, compute_pipeline_stats, map_samples
from recipelab.recipes import ApplyResult, Recipe, apply_ops

if TYPE_CHECKING:
    from recipelab.data.reader import OnError
    from recipelab.workspace import Workspace


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


@dataclass
class ApplyReport:
    """What `apply_to_file` kept and wrote."""

    recipe: Path
    data: Path
    out: Path
    total: int
    kept: int
    removed: list[tuple[str, int]] = field(default_factory=list)
    apply_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": str(self.recipe),
            "data": str(self.data),
            "out": str(self.out),
            "total": self.total,
            "kept": self.kept,
            "removed": [{"op": a, "removed": b} for a, b in self.removed],
            "apply_ms": self.apply_ms,
        }


def apply_to_file(
    ws: Workspace,
    recipe_path: Path,
    data: Path,
    out_path: Path,
    export_stats: bool = False,
    workers: int = 2,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> ApplyReport:
    """Apply a recipe file to a dataset and write the kept (mapped) samples as JSONL, with each sample's
    stats under ``__dj__stats__`` when ``export_stats``. The recipe is checked before the data is read.
    Raises `RecipeError` / `DataError` (both ValueError) with a one-line message."""
    from recipelab.data.writer import write_jsonl
    from recipelab.recipes import Recipe

    rec = Recipe.load(recipe_path)
    ds = ws.read(data, on_error=on_error, quiet=quiet)
    res = apply_recipe_to_dataset(rec, ds, ws.stats_cache(), workers=workers, quiet=quiet, with_stats=export_stats)
    n = write_jsonl(res.kept_samples, out_path, stats=res.sample_stats if export_stats else None)
    return ApplyReport(
        recipe=recipe_path,
        data=data,
        out=out_path,
        total=len(ds),
        kept=n,
        removed=list(res.result.removed),
        apply_ms=res.result.seconds * 1000,
    )
