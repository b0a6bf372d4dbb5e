"""Fixtures for planner unit tests: a real `PoolSpace` over the tiny benchmark, and synthetic states.

Planners are pure functions of (state, space), so each is tested by handing it a state built here, with
made-up metrics, and reading its next plan; no loop, memory or training is involved.

Rank bands (``OpChoice.band``) are honoured by the shipped `PoolSpace`: equal-size rank pools under tied
stats (the dj-sandbox baseline) are part of a recipe's fingerprint and keep exactly the band's samples.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from recipelab.agent.plan import OpChoice
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState, Trial
from recipelab.data.reader import read_dataset
from recipelab.operators.stats import StatsCache

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


@pytest.fixture(scope="session")
def planner_pool(tiny_bench: Path):  # noqa: ANN201
    return read_dataset(tiny_bench / "pool.jsonl", quiet=True)


@pytest.fixture(scope="session")
def pool_space(planner_pool, tmp_path_factory: pytest.TempPathFactory) -> PoolSpace:  # noqa: ANN001
    """The shipped `PoolSpace` over the tiny benchmark's 600-row pool."""
    cache = StatsCache(tmp_path_factory.mktemp("planner-stats"))
    return PoolSpace(planner_pool, cache, ops=PLANNER_OPS, quiet=True)


@pytest.fixture(scope="session")
def band_space(pool_space: PoolSpace) -> PoolSpace:
    """The shipped space honours rank bands (``OpChoice.band``): the same object, named for the tests that
    need exact equal-size pools under ties."""
    return pool_space


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
