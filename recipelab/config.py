"""Run configuration: pydantic models filled from an optional YAML file, then CLI flags."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recipelab.trainers.registry import check_task

Strategy = Literal["agent", "random", "optuna", "dj-sandbox", "k-sigma"]
PlannerName = Literal["auto", "stat", "llm"]
ExecutorName = Literal["local", "ray"]

ENV_LLM_BASE_URL = "RECIPELAB_LLM_BASE_URL"
ENV_LLM_MODEL = "RECIPELAB_LLM_MODEL"
ENV_LLM_KEY = "OPENAI_API_KEY"


class ConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ProbeConfig(_Strict):
    steps: int | None = Field(default=None, ge=1, description="training steps per probe (default: trainer's)")
    batch_size: int | None = Field(default=None, ge=2)
    image_size: int = Field(default=32, ge=8)
    lr: float | None = Field(default=None, gt=0)
    train_size: int | None = Field(
        default=None, ge=1, description="distinct training samples per probe (default: a third of the pool)"
    )
    min_train_size: int | None = Field(default=None, ge=1)
    checkpoint: str | None = Field(default=None, description="local CLIP checkpoint to fine-tune")
    model: dict[str, Any] = Field(default_factory=dict)
    device: str | None = None

    def spec_overrides(self) -> dict[str, Any]:
        keys = ("steps", "batch_size", "image_size", "lr", "min_train_size", "checkpoint")
        out = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if self.model:
            out["model"] = self.model
        return out


class LLMConfig(_Strict):
    base_url: str | None = Field(default=None, description=f"OpenAI-compatible endpoint (env {ENV_LLM_BASE_URL})")
    model: str | None = Field(default=None, description=f"model name (env {ENV_LLM_MODEL})")
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=2000, ge=64)
    #: USD per 1M tokens, for the cost estimate in the log (0 = unknown/free, e.g. a local server).
    price_in_per_m: float = Field(default=0.0, ge=0)
    price_out_per_m: float = Field(default=0.0, ge=0)

    def resolved(self) -> LLMConfig:
        return self.model_copy(
            update={
                "base_url": self.base_url or os.environ.get(ENV_LLM_BASE_URL) or None,
                "model": self.model or os.environ.get(ENV_LLM_MODEL) or None,
            }
        )

    @property
    def configured(self) -> bool:
        r = self.resolved()
        return bool(r.model and (r.base_url or os.environ.get(ENV_LLM_KEY)))


class SearchConfig(_Strict):
    data: str
    eval: str
    test: str | None = None
    task: str = "clip"
    budget_probes: int = Field(default=24, ge=1)
    budget_minutes: float | None = Field(default=None, gt=0)
    budget_tokens: int | None = Field(default=None, ge=0)
    planner: PlannerName = "auto"
    strategy: Strategy = "agent"
    workers: int = Field(default=1, ge=1, le=64)
    executor: ExecutorName = Field(
        default="local", description="where probes run: local processes, or Ray tasks (a local or remote cluster)"
    )
    ray_address: str | None = Field(
        default=None, description="Ray cluster to join ('auto', 'ray://HOST:PORT'); None: start a local Ray"
    )
    seed: int = 0
    test_seeds: int = Field(default=2, ge=0, le=10)
    ops: list[str] | None = Field(default=None, description="candidate ops (default: every filter and dedup)")
    exclude_ops: list[str] = Field(default_factory=list)
    on_error: Literal["skip", "fail"] = "skip"
    on_leak: Literal["drop", "fail"] = Field(
        default="drop", description="pool rows whose image is byte-identical to an eval/test image: drop or fail"
    )
    surrogate: bool = Field(
        default=True,
        description="the agent's threshold search alternates TPE with a Gaussian-process surrogate's picks",
    )
    multi_fidelity: bool = Field(
        default=False,
        description="the agent screens with successive halving over a fidelity ladder (clip task): short probes "
        "first, the best promoted (resumed from a checkpoint) to full length; its threshold search prunes with "
        "Optuna's SuccessiveHalvingPruner. The probe budget then counts full-probe equivalents",
    )
    fidelity_rungs: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 1.0],
        description="rungs of the fidelity ladder as shares of the probe's steps (the last is the full probe)",
    )
    fidelity_eta: int = Field(default=2, ge=2, le=8, description="each rung promotes the best 1/eta to the next")
    warm_start: str = Field(
        default="auto",
        description="start from an earlier run's findings: auto (same or look-alike pool), off, or a run id",
    )
    optuna_storage: str | None = Field(
        default=None, description="Optuna storage URL (any RDB URL); default: the workspace's SQLite file"
    )
    transfer_check: bool = Field(
        default=False,
        description="after the search, re-run the baseline and the top recipes at a larger scale (recipelab transfer)",
    )
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str) -> str:
        return check_task(v)

    @field_validator("fidelity_rungs")
    @classmethod
    def _rungs(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < f <= 1 for f in v):
            raise ValueError(f"fidelity_rungs must be shares in (0, 1], not {v}")
        return sorted(set(v) | {1.0})

    @field_validator("warm_start")
    @classmethod
    def _warm_start(cls, v: str) -> str:
        if v in ("auto", "off") or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", v):
            return v
        raise ValueError(f"warm_start must be auto, off or a run id, not {v!r}")


def load_config_file(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping")
    return data


def build_search_config(file_data: dict[str, Any], overrides: dict[str, Any], source: str = "config") -> SearchConfig:
    """File values, then every override that is not None (nested keys as 'probe.steps')."""
    data: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in file_data.items()}
    for key, value in overrides.items():
        if value is None:
            continue
        parts = key.split(".")
        d = data
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = value
    try:
        return SearchConfig(**data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{source}: field {field}: {err['msg']}") from None
