"""The probe interface: what a probe is asked to do (`ProbeSpec`), what it reports (`ProbeResult`),
and the `Trainer` protocol every task implements.

Protocol (DataComp-style): fixed training compute (``steps x batch_size`` examples), examples drawn
(seeded) from the recipe's kept pool, evaluation on a clean held-out split no recipe touches.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from recipelab.data.sample import Sample

# Calibrated on 2 CPU threads, 32 px (see benchmarks/results/probe_speed.md): one probe with these values,
# including evaluation on 1,000 pairs, stays under ~20 s wall while being long enough (>= 150 steps of
# batch 128, PROBE_NOTES.md) for data quality to show above seed noise.
DEFAULT_PROBE: dict[str, Any] = {
    "task": "clip",
    "steps": 200,
    "batch_size": 128,
    "image_size": 32,
    "lr": 2e-3,
    "weight_decay": 0.1,
    "warmup_frac": 0.1,
    "max_text_len": 24,
    "min_train_size": 64,
}


class ProbeError(RuntimeError):
    """A probe that cannot run; the message says why (e.g. ``recipe keeps 0 samples``)."""


class ProbeSpec(BaseModel):
    """Everything that decides a probe's outcome (together with the data). Hash it for a fingerprint."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    task: str = DEFAULT_PROBE["task"]
    train_ids: list[str] = Field(
        default_factory=list,
        description="Ids of the training draw; the trainer keeps the given samples with these ids "
        "(in this order). Empty: use every given training sample.",
    )
    train_size: int | None = Field(
        default=None,
        ge=1,
        description="Distinct training samples wanted (the equal-size draw). None: len(train_ids) or "
        "len(train). A larger pool is subsampled (seeded); a smaller one runs with what it has, "
        "flagged `undersized`.",
    )
    steps: int = Field(default=DEFAULT_PROBE["steps"], ge=1)
    batch_size: int = Field(default=DEFAULT_PROBE["batch_size"], ge=2)
    seed: int = 0
    image_size: int = Field(default=DEFAULT_PROBE["image_size"], ge=8)
    lr: float = Field(default=DEFAULT_PROBE["lr"], gt=0)
    weight_decay: float = Field(default=DEFAULT_PROBE["weight_decay"], ge=0)
    warmup_frac: float = Field(default=DEFAULT_PROBE["warmup_frac"], ge=0, le=1)
    max_text_len: int = Field(default=DEFAULT_PROBE["max_text_len"], ge=3)
    model: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the small from-scratch config: top-level CLIPConfig keys (e.g. "
        "projection_dim) plus 'vision' / 'text' dicts for the towers (e.g. {'vision': {'hidden_size': 128}}).",
    )
    checkpoint: str | None = Field(
        default=None, description="Local path of a CLIPModel (+ tokenizer) to fine-tune instead."
    )
    min_train_size: int = Field(default=DEFAULT_PROBE["min_train_size"], ge=1)
    primary_metric: str = "mean_recall"
    eval_steps: list[int] = Field(
        default_factory=list,
        description="Steps at which the probe also scores its model on the split (its learning curve); "
        "evaluating changes nothing in training.",
    )
    stop_step: int | None = Field(
        default=None,
        ge=1,
        description="Train only up to this step of the `steps`-long schedule (a low-fidelity probe: the "
        "learning rate follows the full schedule, so resuming it later gives the full probe bit for bit).",
    )
    resume_from: str | None = Field(
        default=None, description="A checkpoint written by an earlier segment of this probe (save_checkpoint)."
    )
    save_checkpoint: str | None = Field(
        default=None, description="Write the model, optimizer and schedule here at the stop, to resume later."
    )

    @property
    def end_step(self) -> int:
        """The step this probe stops at (``steps`` unless it is a low-fidelity segment)."""
        return min(self.stop_step or self.steps, self.steps)


#: Spec fields that say where a probe's checkpoints live, not what it computes: never part of a fingerprint.
CHECKPOINT_FIELDS = ("resume_from", "save_checkpoint")
#: Multi-fidelity fields that are left out of a fingerprint while at their defaults, so single-fidelity
#: probes keep the fingerprints (and cache hits) they had before these fields existed.
FIDELITY_FIELDS = ("eval_steps", "stop_step")


def spec_fingerprint_config(spec: ProbeSpec) -> dict[str, Any]:
    """The spec as it enters a probe's fingerprint: training ids and seed are keyed apart; checkpoint
    paths and unset fidelity fields are left out."""
    cfg = spec.model_dump(mode="json", exclude={"train_ids", "seed", *CHECKPOINT_FIELDS})
    for k in FIDELITY_FIELDS:
        if not cfg.get(k):
            cfg.pop(k, None)
    if cfg.get("stop_step") is not None and cfg["stop_step"] >= spec.steps:
        cfg.pop("stop_step")
    return cfg


class ProbeResult(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    metrics: dict[str, float]
    primary_metric: str
    train_size: int
    requested_train_size: int
    undersized: bool
    wall_time_s: float
    train_time_s: float
    eval_time_s: float
    device: str
    versions: dict[str, str]
    skipped_images: int = 0
    samples_per_s: float = 0.0
    eval_size: int = 0
    seed: int = 0
    steps: int = 0
    batch_size: int = 0
    #: Intermediate scores of this segment: ``[{"step": s, "metrics": {...}}]`` (spec.eval_steps before the stop).
    curve: list[dict[str, Any]] = Field(default_factory=list)
    #: First and last step this segment trained (0 and ``steps`` for a whole probe).
    start_step: int = 0
    end_step: int = 0

    @property
    def primary(self) -> float:
        return self.metrics[self.primary_metric]


@runtime_checkable
class Trainer(Protocol):
    def run(self, spec: ProbeSpec, train: Sequence[Sample], eval: Sequence[Sample]) -> ProbeResult: ...


def library_versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }
