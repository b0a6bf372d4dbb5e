"""Per-op stats as Ray Data ``map_batches``: the same cache keys and the same values as the local path.

Why: a pool of millions of samples is scored faster by every core of a cluster than by one machine's
process pool. The result goes into the same `StatsCache` under the same `op_cache_key`, so the search,
``analyze`` and ``apply`` that follow read it as if it had been computed locally (and a later local
run computes nothing).

What runs where:
- **Filters** run batched on Ray workers, all the missing filters of a pipeline in one pass over the data:
  the pool becomes a Ray dataset of (row index, sample) rows; each batch's `Filter.compute_stats` (of
  every such filter) runs in a Ray task and returns its stats with the row indices, and
  the driver puts every sample's values back in pool order (ragged stats too), then applies the same
  Data-Juicer float round trip as the local path. Values are per sample, so any batching gives the same
  numbers as the local chunks.
- `Filter.setup` runs once on the driver before the batches, as locally: for most filters it does
  nothing; ``image_text_similarity_filter`` with its proxy CLIP trains the proxy on the **whole pool**
  there (cross-fitted: each sample is scored by the fold model that did not see it), so its batches only
  look scores up; with a local ``hf_clip`` checkpoint the CLIP scoring itself runs in the batches.
- **Deduplicators** run on the driver over the whole pool: a group label says which samples are
  duplicates of which, so it needs every pair's hashes at once (exact and near-duplicate clustering).
- **Mappers** rewrite the text on the driver (cheap string work), as the local path does; ops after a
  mapper are keyed by the mapper chain, as locally.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.data.sample import Sample
from recipelab.executors.ray_common import ensure_ray, import_ray
from recipelab.operators.base import Deduplicator, Filter, Mapper, OpContext, Operator, Stat, Stats
from recipelab.operators.stats import (
    StatsCache,
    compute_op_stats,
    dj_stored_floats,
    map_samples,
    op_cache_key,
)

#: Rows per Ray Data batch, as the local path's chunks: text ops are cheap per row, image ops decode.
BATCH_ROWS = {"text": 2000}
DEFAULT_BATCH_ROWS = 500


def whole_pool_reason(op: Operator) -> str | None:
    """Why ``op`` is computed on the driver over the whole pool rather than in Ray batches (None: batched)."""
    if isinstance(op, Deduplicator):
        return "a deduplicator's group labels need every sample's hash at once"
    if isinstance(op, Mapper):
        return "a mapper rewrites text on the driver (no stats)"
    return None


def _stats_of_batch(batch: dict[str, np.ndarray], ops: list[Filter]) -> dict[str, np.ndarray]:
    """One Ray Data batch -> one row: its row indices and every op's stats on it (pickled: stats may be
    ragged). All filters of a pass share one read of the batch, as a Data-Juicer pipeline does."""
    samples: list[Sample] = [pickle.loads(b) for b in batch["sample"]]
    stats = [op.compute_stats(samples) for op in ops]
    blob = pickle.dumps((np.asarray(batch["i"], dtype=np.int64), stats), protocol=pickle.HIGHEST_PROTOCOL)
    return {"part": np.array([blob], dtype=object)}


def _reassemble(parts: list[tuple[np.ndarray, Stats]], keys: Sequence[str]) -> Stats:
    """Stats in pool order from batches in any order: each sample's values (one, or its ragged slice)
    are gathered by row index."""
    idx = np.concatenate([p[0] for p in parts])
    order = np.argsort(idx, kind="stable")
    out: Stats = {}
    for k in keys:
        stats = [p[1][k] for p in parts]
        values = np.concatenate([s.values for s in stats])
        if stats[0].offsets is None:
            out[k] = Stat(values[order])
            continue
        lengths = np.concatenate([np.diff(s.offsets) for s in stats]).astype(np.int64)  # type: ignore[arg-type]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        new_len = lengths[order]
        new_off = np.zeros(len(new_len) + 1, dtype=np.int64)
        np.cumsum(new_len, out=new_off[1:])
        gather = np.repeat(starts[order] - new_off[:-1], new_len) + np.arange(int(new_off[-1]), dtype=np.int64)
        out[k] = Stat(values[gather], new_off)
    return out


def compute_filter_stats_ray(
    ops: Sequence[Filter], samples: Sequence[Sample], context: OpContext, quiet: bool = True
) -> list[Stats]:
    """`compute_filter_stats` of several filters in one Ray Data pass (see the module docstring)."""
    import ray.data

    for op in ops:
        op.setup(context)
    if not samples:
        return [{k: Stat(np.zeros(0)) for k in op.stats_keys} for op in ops]
    rows = [{"i": i, "sample": pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL)} for i, s in enumerate(samples)]
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = not quiet
    if quiet:  # one line per executed dataset otherwise
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    size = min(BATCH_ROWS.get(op.modality, DEFAULT_BATCH_ROWS) for op in ops)
    ds = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // size)))
    out = ds.map_batches(_stats_of_batch, fn_kwargs={"ops": list(ops)}, batch_size=size, batch_format="numpy")
    parts = [pickle.loads(r["part"]) for r in out.take_all()]
    result = []
    for j in range(len(ops)):
        stats = _reassemble([(idx, per_op[j]) for idx, per_op in parts], list(parts[0][1][j]))
        result.append({k: Stat(dj_stored_floats(st.values), st.offsets) for k, st in stats.items()})
    return result


def compute_pipeline_stats_ray(
    ops: Sequence[Operator],
    samples: Sequence[Sample],
    dataset_fingerprint: str,
    cache: StatsCache,
    *,
    address: str | None = None,
    quiet: bool = True,
    cache_dir: str | Path | None = None,
) -> list[Stats | None]:
    """`compute_pipeline_stats` with filters as Ray Data ``map_batches``: same order, same cache keys,
    same values; cached ops are read, never recomputed. Joins Ray at ``address`` unless this process is
    already connected (then that connection is used and left open)."""
    ray = import_ray()
    owns = ensure_ray(address)
    try:
        out: list[Stats | None] = [None] * len(ops)
        chain: list[Mapper] = []
        current: Sequence[Sample] = samples
        cdir = str(cache_dir) if cache_dir is not None else (str(cache.root.parent) if cache.root else ".")
        pending: list[tuple[int, Filter, str]] = []  # filters of this chain level not in the cache

        def flush() -> None:
            if pending:
                ctx = OpContext(samples=current, cache_dir=cdir, dataset_fingerprint=dataset_fingerprint)
                for (i, _, key), stats in zip(
                    pending, compute_filter_stats_ray([f for _, f, _ in pending], current, ctx, quiet), strict=True
                ):
                    cache.save(key, stats)
                    out[i] = stats
                pending.clear()

        for i, op in enumerate(ops):
            if isinstance(op, Mapper):
                flush()  # ops before the mapper see the text before it
                current = map_samples(current, op)
                chain.append(op)
                continue
            if isinstance(op, Filter):
                key = op_cache_key(dataset_fingerprint, chain, op)
                hit = cache.load(key)
                if hit is not None:
                    cache.hits += 1
                    out[i] = hit
                else:
                    cache.misses += 1
                    pending.append((i, op, key))
                continue
            # whole pool on the driver: see whole_pool_reason
            ctx = OpContext(samples=current, cache_dir=cdir, dataset_fingerprint=dataset_fingerprint)
            out[i] = compute_op_stats(op, current, ctx, chain, cache, quiet=quiet)
        flush()
        return out
    finally:
        if owns and ray.is_initialized():
            ray.shutdown()


def warm_stats_cache_ray(
    ops: Sequence[Operator], samples: Sequence[Sample], dataset_fingerprint: str, cache: StatsCache, **kw: Any
) -> tuple[int, int]:
    """Compute the ops' missing stats on Ray into ``cache``, so that the local code that follows only
    reads them; returns (computed, already cached)."""
    before_hits, before_misses = cache.hits, cache.misses
    compute_pipeline_stats_ray(ops, samples, dataset_fingerprint, cache, **kw)
    return cache.misses - before_misses, cache.hits - before_hits
