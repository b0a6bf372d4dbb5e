"""Operator interfaces with Data-Juicer semantics.

Three kinds, as in Data-Juicer:
- ``Filter``: ``compute_stats`` over a batch of samples gives stat columns once (cached); ``keep`` then
  decides from the stats and the thresholds alone, which is what makes re-applying a recipe with other
  thresholds cost milliseconds.
- ``Mapper``: rewrites sample text; stats of ops after it are computed on the mapped text.
- ``Deduplicator``: computes a group label per sample; the first sample of each group is kept.

Stats for image ops are *ragged*: one value per image (``Stat.offsets`` says which values belong to
which sample). That keeps ``any_or_all`` exact and vectorised (``np.logical_or.reduceat``), where a
per-sample min/max summary would not be.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from recipelab.data.sample import Sample

MAXSIZE = sys.maxsize

#: The ``any_or_all`` param of multi-image ops: keep a sample when any / all of its images pass.
AnyOrAll = Literal["any", "all"]


class OpParams(BaseModel):
    """Base for every op's parameter model: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


#: Data-Juicer's ``Filter`` base params and their defaults (data_juicer/ops/base_op.py).
DJ_RANGE_DEFAULTS: dict[str, bool] = {"min_closed_interval": True, "max_closed_interval": True, "reversed_range": False}


#: Fields added for Data-Juicer fidelity, with their defaults: left out of a recipe's fingerprint there.
FINGERPRINT_NEUTRAL: dict[str, Any] = {**DJ_RANGE_DEFAULTS, "strip_special_tokens": False, "short_text_shingle": False}


class FilterParams(OpParams):
    """Base of every filter's params: Data-Juicer's range switches, accepted with Data-Juicer's meaning.

    ``min_closed_interval`` / ``max_closed_interval``: the bound is inclusive (``>=`` / ``<=``) or strict.
    ``reversed_range``: keep what falls *outside* the range. As in Data-Juicer, reversing also flips both
    closed-interval flags first, so the default ``[min, max]`` reversed keeps ``v <= min or v >= max`` (the
    complement of the open interval), not ``v < min or v > max``; and it applies to each (min, max) pair
    of one stat before pairs of different stats are AND-ed (``image_shape_filter``: width and height)."""

    min_closed_interval: bool = True
    max_closed_interval: bool = True
    reversed_range: bool = False


@dataclass
class Stat:
    """One stat column. ``offsets is None``: one value per sample. Else ragged: sample ``i`` owns
    ``values[offsets[i]:offsets[i+1]]`` (one value per image or per chunk)."""

    values: np.ndarray
    offsets: np.ndarray | None = None

    @property
    def ragged(self) -> bool:
        return self.offsets is not None

    def per_sample(self, reduce: Literal["mean", "min", "max"] = "mean") -> np.ndarray:
        """One float per sample (NaN where a sample has no value), for describing and plotting."""
        if self.offsets is None:
            return self.values.astype(float)
        n = len(self.offsets) - 1
        out = np.full(n, np.nan)
        counts = np.diff(self.offsets)
        has = counts > 0
        if not has.any():
            return out
        starts = self.offsets[:-1][has]
        vals = self.values.astype(float)
        if reduce == "mean":
            out[has] = np.add.reduceat(vals, starts) / counts[has]
        elif reduce == "min":
            out[has] = np.minimum.reduceat(vals, starts)
        else:
            out[has] = np.maximum.reduceat(vals, starts)
        return out

    def finite_values(self) -> np.ndarray:
        v = self.values.astype(float)
        return v[np.isfinite(v)]

    @staticmethod
    def concat(parts: Sequence[Stat]) -> Stat:
        if not parts:
            return Stat(np.zeros(0))
        if parts[0].offsets is None:
            return Stat(np.concatenate([p.values for p in parts]))
        values = np.concatenate([p.values for p in parts])
        offs = [np.zeros(1, dtype=np.int64)]
        base = 0
        for p in parts:
            offs.append(p.offsets[1:] + base)  # type: ignore[index]
            base += int(p.offsets[-1])  # type: ignore[index]
        return Stat(values, np.concatenate(offs).astype(np.int64))

    @staticmethod
    def from_lists(lists: Sequence[Sequence[float]]) -> Stat:
        counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        flat = [v for x in lists for v in x]
        return Stat(np.asarray(flat, dtype=float), offsets)


Stats = dict[str, Stat]


@dataclass(frozen=True)
class Threshold:
    """A numeric bound of a filter: which param sets it, on which stat key, and which side."""

    param: str
    stat_key: str
    side: Literal["min", "max"]


class Operator:
    """Common part of all ops. Subclasses set the class attributes and implement their kind's methods."""

    name: ClassVar[str]
    kind: ClassVar[Literal["filter", "mapper", "deduplicator"]]
    Params: ClassVar[type[OpParams]] = OpParams
    #: "text", "image", "image_text": decides batching (image ops run in worker processes).
    modality: ClassVar[Literal["text", "image", "image_text"]] = "text"
    #: One line for `recipelab ops list`; the class docstring is the long help.
    summary: ClassVar[str] = ""
    #: Params that change the computed stats (and so the cache key); thresholds are not among them.
    stat_params: ClassVar[tuple[str, ...]] = ()
    #: True where Data-Juicer has no op of this name (the export leaves such ops out of a DJ config).
    new_op: ClassVar[bool] = False
    #: Params that Data-Juicer's op of the same name does not have (recipelab extensions, opt-in
    #: behaviours). At their defaults the op decides exactly as Data-Juicer's; the export never writes
    #: them, and leaves the op out of a Data-Juicer config when one is set to another value.
    extension_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: OpParams | dict[str, Any] | None = None) -> None:
        if params is None:
            params = self.Params()
        elif isinstance(params, dict):
            params = self.Params(**params)
        self.params = params

    def __repr__(self) -> str:
        return f"{self.name}({self.params.model_dump()})"

    def stat_config(self) -> dict[str, Any]:
        """The params that change the stats, JSON-able, for the cache key."""
        dumped = self.params.model_dump(mode="json")
        return {k: dumped[k] for k in self.stat_params}

    def setup(self, context: OpContext) -> None:  # noqa: B027 - optional hook
        """Called once before stats are computed (e.g. to train or load a model). Default: nothing."""

    def extensions_in_use(self) -> dict[str, Any]:
        """Extension params set to a non-default value: why this op cannot be written as Data-Juicer's."""
        fields = type(self.params).model_fields
        return {
            k: getattr(self.params, k)
            for k in self.extension_params
            if k in fields and getattr(self.params, k) != fields[k].get_default(call_default_factory=True)
        }

    def dj_unsupported_reason(self) -> str | None:
        """Why this op, with these params, cannot go into a Data-Juicer config as is (None: it can, and
        decides the same there)."""
        if self.new_op:
            return "recipelab-only op: Data-Juicer has no op of this name"
        ext = self.extensions_in_use()
        if ext:
            shown = ", ".join(f"{k}={v!r}" for k, v in ext.items())
            return f"uses recipelab extension(s) Data-Juicer's op does not have: {shown}"
        return None

    @classmethod
    def dj_params(cls, params: dict[str, Any], keep_extensions: bool = False) -> dict[str, Any]:
        """``params`` (as written in a recipe) as Data-Juicer's op takes them: values in Data-Juicer's
        types (ops with unit strings override this); extension params dropped unless ``keep_extensions``
        (a recipelab recipe file keeps them, an exported Data-Juicer config never has them)."""
        return {k: v for k, v in params.items() if keep_extensions or k not in cls.extension_params}

    @classmethod
    def canonical_params(cls, dumped: dict[str, Any]) -> dict[str, Any]:
        """All params (``model_dump(mode="json")``) in the form that identifies a recipe: the fields added
        for Data-Juicer fidelity are left out at their defaults, so recipes keep the fingerprints they had
        before those fields existed."""
        return {k: v for k, v in dumped.items() if k not in FINGERPRINT_NEUTRAL or v != FINGERPRINT_NEUTRAL[k]}


@dataclass
class OpContext:
    """What an op may need beyond a batch: the whole pool (for self-trained proxies) and a cache dir."""

    samples: Sequence[Sample]
    cache_dir: str
    dataset_fingerprint: str
    workers: int = 1


class Filter(Operator):
    kind = "filter"
    #: Stat keys this filter writes (Data-Juicer names).
    stats_keys: ClassVar[tuple[str, ...]] = ()
    #: The numeric bounds, used by the generic ``keep`` and by the search space.
    thresholds: ClassVar[tuple[Threshold, ...]] = ()

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        """Stats for a batch; values are per sample, or ragged per image/chunk for image ops."""
        raise NotImplementedError

    def bound(self, param: str) -> float | None:
        """A threshold param as a number (None = no bound). Ops with unit strings (sizes) override it."""
        v = getattr(self.params, param)
        return None if v is None else float(v)

    def keep(self, stats: Stats) -> np.ndarray:
        """Boolean mask over samples. Default: every threshold as a closed interval on its stat,
        AND-ed per element (image), then ``any_or_all`` over a sample's elements; a sample with no
        element (no image) is kept."""
        return range_keep(self, stats)


class Mapper(Operator):
    kind = "mapper"

    def process_texts(self, texts: list[str]) -> list[str]:
        """Rewrite a batch of texts (special tokens included; keep them intact)."""
        raise NotImplementedError


class Deduplicator(Operator):
    kind = "deduplicator"
    #: Name under which the group labels are stored in the stats table.
    hash_key: ClassVar[str] = "__dj__hash"

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        """An int64 group label per sample over the whole pool: equal labels are duplicates.

        Computed over the whole pool at once (near-duplicate clustering needs all pairs). At apply
        time the first *kept* sample of each group survives; see ``recipes.apply``.
        """
        raise NotImplementedError


def range_keep(op: Filter, stats: Stats) -> np.ndarray:
    """Data-Juicer's ``get_keep_boolean`` for every element (image / chunk / sample), vectorised.

    Thresholds on the same stat form one (min, max) pair: closed or open per side
    (``min_closed_interval`` / ``max_closed_interval``), negated when ``reversed_range`` (which, as in
    Data-Juicer, flips both closed flags first). Pairs of different stats are AND-ed. An element whose stat
    is NaN (an unreadable image) never passes, reversed or not: Data-Juicer would stop on such an image.
    Then ``any_or_all`` over a sample's elements; a sample without elements is kept."""
    ths = op.thresholds
    if not ths:
        raise NotImplementedError(f"{op.name} has no thresholds; override keep()")
    p = op.params
    reversed_range = bool(getattr(p, "reversed_range", False))
    min_closed = bool(getattr(p, "min_closed_interval", True)) != reversed_range
    max_closed = bool(getattr(p, "max_closed_interval", True)) != reversed_range
    elem_ok: np.ndarray | None = None
    offsets: np.ndarray | None = None
    for key in dict.fromkeys(th.stat_key for th in ths):
        st = stats[key]
        v = st.values.astype(float)
        ok = np.ones(len(v), dtype=bool)
        for th in ths:
            if th.stat_key != key:
                continue
            b = op.bound(th.param)
            if b is None:
                continue
            if th.side == "min":
                ok &= (v >= b) if min_closed else (v > b)
            else:
                ok &= (v <= b) if max_closed else (v < b)
        if reversed_range:
            ok = ~ok
        ok &= ~np.isnan(v)
        elem_ok = ok if elem_ok is None else (elem_ok & ok)
        offsets = st.offsets
    assert elem_ok is not None
    if offsets is None:
        return elem_ok
    return reduce_any_all(elem_ok, offsets, getattr(op.params, "any_or_all", "any"))


def reduce_any_all(elem_ok: np.ndarray, offsets: np.ndarray, mode: str) -> np.ndarray:
    """Per-sample any/all over ragged booleans; samples without elements are kept."""
    n = len(offsets) - 1
    out = np.ones(n, dtype=bool)
    counts = np.diff(offsets)
    has = counts > 0
    if has.any() and len(elem_ok):
        starts = offsets[:-1][has]
        red = np.logical_or.reduceat if mode == "any" else np.logical_and.reduceat
        out[has] = red(elem_ok, starts)
    return out


@dataclass(frozen=True)
class QuantileDim:
    """One searchable threshold, expressed as a quantile range of its stat on the current pool, so the
    same search space is meaningful on any dataset. Optuna samples ``q``; ``stat_quantile`` maps it."""

    param: str
    stat_key: str
    side: Literal["min", "max"]
    low: float
    high: float


def default_search_space(op: Filter) -> list[QuantileDim]:
    """Lower bounds search the bottom half of the distribution, upper bounds the top half."""
    dims = []
    for th in op.thresholds:
        if th.side == "min":
            dims.append(QuantileDim(th.param, th.stat_key, "min", 0.0, 0.5))
        else:
            dims.append(QuantileDim(th.param, th.stat_key, "max", 0.5, 1.0))
    return dims


def stat_quantile(stat: Stat, q: float) -> float:
    vals = stat.finite_values()
    if len(vals) == 0:
        return float("nan")
    return float(np.quantile(vals, min(max(q, 0.0), 1.0)))
