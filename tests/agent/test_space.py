"""space: the similarity screening tail derived from the scores, plain tails, threshold sides, masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.agent.space import PLAIN_TAIL_RANGE, SIM_TAIL_RANGE, PoolSpace, mixture_tail
from recipelab.data.reader import read_dataset
from recipelab.workspace import Workspace


def scores(mismatch: float, n: int = 3000, seed: int = 0) -> np.ndarray:
    """Proxy-CLIP-like cosine scores: matched pairs around 0.30, mismatched ones around 0.05."""
    rng = np.random.default_rng(seed)
    k = int(round(mismatch * n))
    return np.concatenate([rng.normal(0.30, 0.08, n - k), rng.normal(0.05, 0.08, k)])


@pytest.mark.parametrize("mismatch", [0.05, 0.20, 0.35])
def test_similarity_tail_follows_the_mismatch_share(mismatch: float) -> None:
    fit = mixture_tail(scores(mismatch))
    assert fit.separated
    assert fit.q == pytest.approx(mismatch, abs=0.03)
    assert fit.low_mean < 0.15 < fit.high_mean
    assert "low cluster" in fit.why()


def test_similarity_tail_tracks_the_pool_not_a_constant() -> None:
    qs = [mixture_tail(scores(m)).q for m in (0.05, 0.20, 0.35)]
    assert qs == sorted(qs) and qs[-1] - qs[0] > 0.2


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).normal(0.3, 0.08, 3000),  # no mismatch at all
        np.random.default_rng(2).gamma(9.0, 0.035, 3000),  # one skewed cluster
        1.0 - np.random.default_rng(3).gamma(9.0, 0.035, 3000),  # skewed towards low scores
        np.random.default_rng(4).beta(5.0, 5.0, 3000),  # bounded, one cluster
    ],
)
def test_no_low_cluster_gives_the_floor_not_a_split(values: np.ndarray) -> None:
    fit = mixture_tail(values)
    assert not fit.separated
    assert fit.q == SIM_TAIL_RANGE[0]
    assert "no separate low cluster" in fit.why()


def test_similarity_tail_is_clamped() -> None:
    rng = np.random.default_rng(4)
    mostly_bad = np.concatenate([rng.normal(0.3, 0.05, 900), rng.normal(0.0, 0.05, 2100)])
    fit = mixture_tail(mostly_bad)
    assert fit.separated and fit.share > 0.6
    assert fit.q == SIM_TAIL_RANGE[1]
    assert not mixture_tail(np.array([0.1] * 50)).separated
    assert not mixture_tail(np.array([0.1, 0.2])).separated


@pytest.fixture(scope="module")
def space(tiny_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> PoolSpace:
    ops = ["text_length_filter", "words_num_filter", "image_shape_filter", "document_deduplicator"]
    ws = Workspace.open(tmp_path_factory.mktemp("ws"))
    return PoolSpace(read_dataset(tiny_bench / "pool.jsonl", quiet=True), ws.stats_cache(), ops=ops, quiet=True)


def test_threshold_sides(space: PoolSpace) -> None:
    assert space.other_side("text_length_filter", "min_len") == "max_len"
    assert space.other_side("text_length_filter", "max_len") == "min_len"
    assert space.other_side("image_shape_filter", "min_height") == "max_height"
    assert space.side_of("image_shape_filter", "max_width") == "max"
    assert space.thresholds_of("document_deduplicator") == []


def test_side_tail_is_where_the_stat_tail_begins(space: PoolSpace) -> None:
    lo, hi = PLAIN_TAIL_RANGE
    for op in ("text_length_filter", "words_num_filter", "image_shape_filter"):
        for param, key, side in space.thresholds_of(op):
            q = space.side_tail(op, param)
            assert lo <= q <= hi
            v = space.entries[op].stats[key].per_sample(side)
            v = v[np.isfinite(v)]
            med = np.median(v)
            mad = 1.4826 * np.median(np.abs(v - med)) or np.std(v)
            share = np.mean(v < med - 2 * mad) if side == "min" else np.mean(v > med + 2 * mad)
            assert q == pytest.approx(min(max(share, lo), hi), abs=1e-4)


def test_removed_mask_matches_apply(space: PoolSpace) -> None:
    ch = [OpChoice(op="text_length_filter", quantiles=[ParamValue(name="max_len", value=0.9)])]
    mask = space.removed(ch)
    assert mask.dtype == bool and mask.shape == (space.n,)
    assert mask.sum() == space.n - space.apply(space.to_recipe(ch)).n_kept
    assert 0 < mask.mean() <= 0.11
    assert space.removed(ch) is mask  # cached


def test_similarity_tail_of_a_space_uses_its_scores(space: PoolSpace, monkeypatch: pytest.MonkeyPatch) -> None:
    assert space.similarity_tail() is None  # no similarity op in this space
    s = scores(0.2, n=space.n, seed=5)
    monkeypatch.setattr(space, "similarity", lambda: s)
    monkeypatch.setattr(space, "_sim_tail", None)
    fit = space.similarity_tail()
    assert fit is not None and fit.separated and fit.q == pytest.approx(0.2, abs=0.05)


def test_priors_are_computed_once(space: PoolSpace) -> None:
    a = space.priors()
    b = space.priors()
    assert a == b and a is not b  # callers may reorder their copy
    assert all(p.op in space.entries for p in a)
