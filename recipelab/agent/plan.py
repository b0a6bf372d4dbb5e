"""What a planner returns: proposals of recipes to probe, or of a threshold search, plus its reasons.

Kept strict-schema friendly (lists of ``{name, value}`` instead of open dicts) because the LLM
planner fills the same model with structured output, and OpenAI's strict mode rejects open objects.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from recipelab.operators.base import Stat


class ParamValue(BaseModel):
    name: str = Field(description="parameter name of the operator, e.g. min_len")
    value: float | int | str | bool = Field(description="parameter value")

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | int | str | bool) -> float | int | str | bool:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class RankBand(BaseModel):
    """One of ``parts`` equal-size slices of the pool by rank of an op's stat: Data-Juicer sandbox's
    single-op data pools (``DataPoolConstruction``: sort by the stat, split at ``int(n * i / parts + 0.5)``).

    Why not thresholds: with tied stats (integer lengths, same-size images, zero ratios) no pair of
    bounds keeps exactly a third of the pool, and a threshold "low third" can keep almost all of it.
    Ranks break ties by a seeded shuffle, so every slice has the same size and the slices partition
    the pool. Data-Juicer ranks a per-image stat by the sample's mean and a sample without a value as 0.
    """

    param: str = Field(description="threshold param whose stat ranks the pool, e.g. min_len")
    part: int = Field(ge=0, description="which slice, 0 = lowest values")
    parts: int = Field(default=3, ge=2, le=100, description="number of equal-size slices")
    seed: int = Field(default=0, description="seed of the shuffle that orders tied values")

    @model_validator(mode="after")
    def _part_in_range(self) -> RankBand:
        if self.part >= self.parts:
            raise ValueError(f"part must be < parts ({self.parts}), got {self.part}")
        return self

    def bounds(self, n: int) -> tuple[int, int]:
        """[start, end) ranks of this slice in a pool of ``n`` (Data-Juicer's split points)."""
        cut = [0] + [int(n * i / self.parts + 0.5) for i in range(1, self.parts)] + [n]
        return cut[self.part], cut[self.part + 1]

    def order(self, stat: Stat) -> np.ndarray:
        """Sample indices from the lowest value to the highest, ties in seeded-shuffle order."""
        v = np.nan_to_num(stat.per_sample("mean"), nan=0.0)
        perm = np.random.default_rng(self.seed % 2**63).permutation(len(v))
        return perm[np.argsort(v[perm], kind="stable")]

    def mask(self, stat: Stat) -> np.ndarray:
        """Boolean mask over the pool: the samples whose rank falls in this slice."""
        order = self.order(stat)
        lo, hi = self.bounds(len(order))
        out = np.zeros(len(order), dtype=bool)
        out[order[lo:hi]] = True
        return out


class OpChoice(BaseModel):
    op: str = Field(description="registered operator name, e.g. text_length_filter")
    params: list[ParamValue] = Field(default_factory=list, description="fixed parameter values")
    quantiles: list[ParamValue] = Field(
        default_factory=list,
        description="threshold params given as a quantile (0..1) of the op's stat on the pool instead of a value",
    )
    band: RankBand | None = Field(
        default=None,
        description="keep only this rank slice of the op's stat (ties broken by a seed); set by the dj-sandbox "
        "baseline where ties make thresholds unable to cut equal-size pools",
    )

    @model_serializer(mode="wrap")
    def _omit_no_band(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``band`` out when unset, so choices recorded before it existed dump (and compare) the same."""
        out = handler(self)
        if out.get("band") is None:
            out.pop("band", None)
        return out


class SearchDim(BaseModel):
    op: str
    param: str = Field(description="threshold parameter, e.g. min_len")
    low_q: float = Field(ge=0.0, le=1.0, description="lowest quantile to try")
    high_q: float = Field(ge=0.0, le=1.0, description="highest quantile to try")


class Proposal(BaseModel):
    kind: Literal["recipe", "search"] = Field(
        description="recipe: probe the given ops as they are; search: Optuna tunes the dims starting from ops"
    )
    ops: list[OpChoice] = Field(default_factory=list, description="the recipe (or the search's starting point)")
    search: list[SearchDim] = Field(default_factory=list, description="threshold ranges for kind=search")
    n_trials: int = Field(default=0, ge=0, le=200, description="trials for kind=search")
    toggle_ops: list[str] = Field(
        default_factory=list, description="for kind=search: ops the search may also switch off entirely"
    )
    start_on: list[str] | None = Field(
        default=None,
        description="for kind=search: the toggled ops that are on in the first trial (the rest off); "
        "None: the sampler picks them",
    )
    seeds: int = Field(default=1, ge=1, le=10, description="replicates of a recipe with different seeds")
    first_seed: int = Field(default=0, ge=0, le=100, description="index of the first seed (0 pairs with the baseline)")
    purpose: str = Field(default="", description="short tag, e.g. screen:image_entropy_filter")
    hypothesis: str = Field(default="", description="what this probe tests, in one sentence")


class Plan(BaseModel):
    proposals: list[Proposal] = Field(default_factory=list)
    rationale: str = Field(default="", description="why these proposals, given the evidence so far")
    converged: bool = Field(default=False, description="true when no further probe is worth its cost")
