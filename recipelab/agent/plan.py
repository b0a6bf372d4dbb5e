"""What a planner returns: proposals of recipes to probe, or of a threshold search, plus its reasons.

Kept strict-schema friendly (lists of ``{name, value}`` instead of open dicts) because the LLM
planner fills the same model with structured output, and OpenAI's strict mode rejects open objects.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field, field_validator


class ParamValue(BaseModel):
    name: str = Field(description="parameter name of the operator, e.g. min_len")
    value: float | int | str | bool = Field(description="parameter value")

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | int | str | bool) -> float | int | str | bool:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class OpChoice(BaseModel):
    op: str = Field(description="registered operator name, e.g. text_length_filter")
    params: list[ParamValue] = Field(default_factory=list, description="fixed parameter values")
    quantiles: list[ParamValue] = Field(
        default_factory=list,
        description="threshold params given as a quantile (0..1) of the op's stat on the pool instead of a value",
    )


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
    seeds: int = Field(default=1, ge=1, le=10, description="replicates of a recipe with different seeds")
    first_seed: int = Field(default=0, ge=0, le=100, description="index of the first seed (0 pairs with the baseline)")
    purpose: str = Field(default="", description="short tag, e.g. screen:image_entropy_filter")
    hypothesis: str = Field(default="", description="what this probe tests, in one sentence")


class Plan(BaseModel):
    proposals: list[Proposal] = Field(default_factory=list)
    rationale: str = Field(default="", description="why these proposals, given the evidence so far")
    converged: bool = Field(default=False, description="true when no further probe is worth its cost")
