"""Compute op stats once per (dataset, mapper chain, op, stat params) and cache them on disk.

Applying a recipe afterwards only reads arrays, which is what makes thousands of candidate recipes
cheap to evaluate. Image ops run over chunks in worker processes; text ops are fast enough in one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.data.sample import Sample
from recipelab.operators.base import Deduplicator, Filter, Mapper, OpContext, Operator, Stat, Stats
from recipelab.progress import progress_iter

# 2: Data-Juicer-faithful stats (raw text with special tokens, exact SPECIAL_CHARACTERS, imagededup
# hashes, EXIF-rotated sizes, no short-text shingle, floats at Data-Juicer's stored precision): caches of
# version 1 must not be reused.
STATS_VERSION = 2


def mapper_chain_config(mappers: Sequence[Mapper]) -> list[list[Any]]:
    return [[m.name, m.params.model_dump(mode="json")] for m in mappers]


def op_cache_key(dataset_fp: str, chain: Sequence[Mapper], op: Operator) -> str:
    blob = json.dumps(
        {
            "v": STATS_VERSION,
            "ds": dataset_fp,
            "chain": mapper_chain_config(chain),
            "op": op.name,
            "cfg": op.stat_config(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class StatsCache:
    """npz files under ``<root>/stats``: one per op key, holding values (+ offsets) per stat key."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) / "stats" if root is not None else None
        self.hits = 0
        self.misses = 0
        self._memo: dict[str, Stats] = {}  # loaded arrays stay in memory: a search applies many recipes

    def _path(self, key: str) -> Path | None:
        return None if self.root is None else self.root / f"{key}.npz"

    def load(self, key: str) -> Stats | None:
        if key in self._memo:
            return self._memo[key]
        p = self._path(key)
        if p is None or not p.exists():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                keys = json.loads(str(z["__keys__"]))
                out: Stats = {}
                for i, k in enumerate(keys):
                    offs = z[f"o{i}"] if f"o{i}" in z.files else None
                    out[k] = Stat(z[f"v{i}"], offs)
        except (OSError, ValueError, KeyError):
            return None
        self._memo[key] = out
        return out

    def save(self, key: str, stats: Stats) -> None:
        self._memo[key] = stats
        p = self._path(key)
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"__keys__": np.array(json.dumps(list(stats)))}
        for i, (_, st) in enumerate(stats.items()):
            arrays[f"v{i}"] = st.values
            if st.offsets is not None:
                arrays[f"o{i}"] = st.offsets
        tmp = p.with_name(p.stem + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, p)


def dj_stored_floats(values: np.ndarray) -> np.ndarray:
    """Float stats as Data-Juicer reads them back when it decides.

    Data-Juicer keeps stats in a ``__dj__stats__`` column that ``datasets`` stores as JSON, written and
    read with pandas' ujson (10 decimals, and a parser that is not correctly rounded): an aspect ratio
    of 33/99 is 0.33333333330000003 there, so ``min_ratio: 0.3333333333333333`` drops that image in
    Data-Juicer. Stats computed here go through the same round trip so decisions are the same at exact
    thresholds too. Integers, NaN (unreadable image) and infinities are left as they are."""
    if values.dtype.kind != "f" or len(values) == 0:
        return values
    try:
        from pandas.io.json import ujson_dumps, ujson_loads
    except ImportError:  # pandas < 2.2
        from pandas.io.json import dumps as ujson_dumps  # type: ignore[attr-defined,no-redef]
        from pandas.io.json import loads as ujson_loads  # type: ignore[attr-defined,no-redef]
    out = values.astype(np.float64, copy=True)
    finite = np.isfinite(out)
    if finite.any():
        out[finite] = np.asarray(ujson_loads(ujson_dumps(out[finite].tolist())), dtype=np.float64)
    return out


def _compute_chunk(args: tuple[Filter, list[Sample]]) -> Stats:
    op, chunk = args
    return op.compute_stats(chunk)


def _chunks(samples: Sequence[Sample], size: int) -> list[list[Sample]]:
    return [list(samples[i : i + size]) for i in range(0, len(samples), size)]


def compute_filter_stats(op: Filter, samples: Sequence[Sample], context: OpContext, quiet: bool = False) -> Stats:
    op.setup(context)
    workers = max(1, context.workers)
    if op.modality == "image" and workers > 1 and len(samples) >= 1000:
        chunks = _chunks(samples, max(250, len(samples) // (workers * 8)))
        with ProcessPoolExecutor(workers) as ex:
            it = ex.map(_compute_chunk, [(op, c) for c in chunks])
            parts = list(progress_iter(it, total=len(chunks), desc=f"{op.name}", quiet=quiet))
    else:
        chunks = _chunks(samples, 2000 if op.modality == "text" else 500)
        parts = [op.compute_stats(c) for c in progress_iter(chunks, total=len(chunks), desc=op.name, quiet=quiet)]
    if not parts:
        return {k: Stat(np.zeros(0)) for k in op.stats_keys}
    out = {k: Stat.concat([p[k] for p in parts]) for k in parts[0]}
    return {k: Stat(dj_stored_floats(st.values), st.offsets) for k, st in out.items()}


def compute_op_stats(
    op: Operator,
    samples: Sequence[Sample],
    context: OpContext,
    chain: Sequence[Mapper],
    cache: StatsCache,
    quiet: bool = False,
) -> Stats:
    """Stats of one op (group labels for a deduplicator), from the cache when present."""
    key = op_cache_key(context.dataset_fingerprint, chain, op)
    hit = cache.load(key)
    if hit is not None:
        cache.hits += 1
        return hit
    cache.misses += 1
    if isinstance(op, Filter):
        stats = compute_filter_stats(op, samples, context, quiet=quiet)
    elif isinstance(op, Deduplicator):
        labels = np.asarray(op.compute_groups(samples, context), dtype=np.int64)
        stats = {op.hash_key: Stat(labels)}
    else:
        raise TypeError(f"{op.name} is a {op.kind}; mappers have no stats")
    cache.save(key, stats)
    return stats


def map_samples(samples: Sequence[Sample], mapper: Mapper) -> list[Sample]:
    texts = mapper.process_texts([s.text for s in samples])
    return [dataclasses.replace(s, text=t) for s, t in zip(samples, texts, strict=True)]


def compute_pipeline_stats(
    ops: Sequence[Operator],
    samples: Sequence[Sample],
    dataset_fingerprint: str,
    cache: StatsCache,
    workers: int = 1,
    quiet: bool = False,
    cache_dir: str | Path | None = None,
) -> list[Stats | None]:
    """Stats for each op of a pipeline, in order (None for mappers). Ops after a mapper see the mapped
    text, and their cache key includes the mapper chain before them."""
    out: list[Stats | None] = []
    chain: list[Mapper] = []
    current: Sequence[Sample] = samples
    cdir = str(cache_dir) if cache_dir is not None else (str(cache.root.parent) if cache.root else ".")
    for op in ops:
        if isinstance(op, Mapper):
            current = map_samples(current, op)
            chain.append(op)
            out.append(None)
            continue
        ctx = OpContext(samples=current, cache_dir=cdir, dataset_fingerprint=dataset_fingerprint, workers=workers)
        out.append(compute_op_stats(op, current, ctx, chain, cache, quiet=quiet))
    return out
