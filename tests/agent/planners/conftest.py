"""Fixtures for planner unit tests: a real `PoolSpace` over the tiny benchmark, and synthetic states.

Planners are pure functions of (state, space), so each is tested by handing it a state built here, with
made-up metrics, and reading its next plan; no loop, memory or training is involved.

`BandSpace` is the change `PoolSpace` needs so that `OpChoice.band` (equal-size rank pools under tied
stats, for the dj-sandbox baseline) is honoured: it records bands in the recipe (so they are part of its
fingerprint) and keeps exactly the band's samples. Until `agent/space.py` and `recipes.py` carry it, the
dj-sandbox tests that need exact pools under ties run on this subclass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from recipelab.agent.plan import OpChoice, RankBand
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState, Trial
from recipelab.data.reader import read_dataset
from recipelab.operators.stats import StatsCache
from recipelab.recipes import ApplyResult, Recipe

# Text, image and dedup ops with cheap stats; several have heavily tied stats on the tiny benchmark
# (word_rep_ratio: ~99% zeros; image widths and aspect ratios: ~95% one value). No proxy CLIP (it trains).
PLANNER_OPS = [
    "text_length_filter",
    "words_num_filter",
    "word_repetition_filter",
    "special_characters_filter",
    "alphanumeric_filter",
    "image_aspect_ratio_filter",
    "image_shape_filter",
    "image_entropy_filter",
    "image_deduplicator",
    "document_deduplicator",
]


class BandRecipe(Recipe):
    """A recipe whose identity includes its rank bands (``extra['rank_bands']``)."""

    def canonical_json(self) -> str:
        base = json.loads(super().canonical_json())
        if self.extra.get("rank_bands"):
            base.append(["rank_bands", self.extra["rank_bands"]])
        return json.dumps(base, sort_keys=True)


class BandSpace(PoolSpace):
    """`PoolSpace` with the proposed support for ``OpChoice.band``."""

    def to_recipe(self, choices: Sequence[OpChoice]) -> Recipe:
        r = super().to_recipe(choices)
        bands = []
        for ch in choices:
            if ch.band is not None:
                self.stat_for(ch.op, ch.band.param)  # a band must name one of the op's thresholds
                bands.append({"op": ch.op, **ch.band.model_dump(mode="json")})
        extra = {**r.extra, **({"rank_bands": bands} if bands else {})}
        return BandRecipe(process=r.process, extra=extra)

    def apply(self, recipe: Recipe) -> ApplyResult:
        res = super().apply(recipe)
        for b in recipe.extra.get("rank_bands") or []:
            band = RankBand.model_validate({k: v for k, v in b.items() if k != "op"})
            res.kept &= band.mask(self.stat_for(b["op"], band.param)[0])
        return res


@pytest.fixture(scope="session")
def planner_pool(tiny_bench: Path):  # noqa: ANN201
    return read_dataset(tiny_bench / "pool.jsonl", quiet=True)


@pytest.fixture(scope="session")
def pool_space(planner_pool, tmp_path_factory: pytest.TempPathFactory) -> PoolSpace:  # noqa: ANN001
    """The shipped `PoolSpace` over the tiny benchmark's 600-row pool."""
    cache = StatsCache(tmp_path_factory.mktemp("planner-stats"))
    return PoolSpace(planner_pool, cache, ops=PLANNER_OPS, quiet=True)


@pytest.fixture(scope="session")
def band_space(planner_pool, pool_space: PoolSpace) -> BandSpace:  # noqa: ANN001
    """The same pool and ops, with rank bands honoured (stats come from the same cache)."""
    return BandSpace(planner_pool, pool_space.cache, ops=PLANNER_OPS, quiet=True)


class StateBuilder:
    """Accumulates trials; ``state(budget)`` gives the `SearchState` a planner would see."""

    def __init__(self, space: PoolSpace) -> None:
        self.space = space
        self.trials: list[Trial] = []

    def add(self, choices: list[OpChoice], purpose: str, metric: float | None, seed_index: int = 0) -> StateBuilder:
        """A finished probe as the planner would read it from the memory (``metric=None``: a failed one)."""
        self.trials.append(
            Trial(
                id=len(self.trials) + 1,
                recipe_fp=self.space.to_recipe(choices).fingerprint(),
                choices=choices,
                purpose=purpose,
                seed_index=seed_index,
                metric=metric,
                status="done" if metric is not None else "failed",
            )
        )
        return self

    def baseline(self, metric: float = 0.5) -> StateBuilder:
        """The no-filter pool on two seeds, as every strategy starts."""
        return self.add([], "baseline", metric, 0).add([], "baseline", metric + 0.01, 1)

    def state(self, budget: int, banned: set[str] | None = None) -> SearchState:
        s = SearchState(run_id="test", budget_probes=budget, trials=list(self.trials))
        s.steering.banned = set(banned or ())
        return s


@pytest.fixture
def states() -> Callable[[PoolSpace], StateBuilder]:
    return StateBuilder
