"""Everything a probe needs, built once per process: the pool and the clean splits, the run's one
tokenizer, decoded image banks and the task's trainer.

`ProbeEnvConfig` is small, typed and picklable, so a worker process (local pool, Ray task) rebuilds the
same environment from it; all heavy parts come from caches (dataset validation, memory-mapped image
banks, the tokenizer file), so that costs a second, not a re-decode. It is built once, from the search
configuration, the workspace and the run id (``ProbeEnvConfig.for_run``), by every caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from recipelab.data.reader import Dataset, read_dataset
from recipelab.trainers.base import ProbeError, ProbeResult, ProbeSpec
from recipelab.trainers.registry import make_trainer

OnLeak = Literal["drop", "fail"]


class LeakageError(ValueError):
    """Eval/test images that also appear in the pool: scores on them would reward memorising."""


class ProbeEnvConfig(BaseModel):
    """What a process needs to rebuild the probe environment of a run."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    cache_dir: str
    data: str
    eval: str
    test: str | None = None
    task: str = "clip"
    image_size: int = 32
    checkpoint: str | None = None
    device: str | None = None
    tokenizer_path: str
    on_error: Literal["skip", "fail"] = "skip"
    on_leak: OnLeak = "drop"

    @classmethod
    def for_run(cls, cfg: Any, ws: Any, run_id: str) -> ProbeEnvConfig:
        """From a `SearchConfig`, the `Workspace` and the run id (the run's tokenizer lives in its folder)."""
        p = cfg.probe
        return cls(
            cache_dir=str(ws.cache_dir),
            data=cfg.data,
            eval=cfg.eval,
            test=cfg.test,
            task=cfg.task,
            image_size=p.image_size,
            checkpoint=p.checkpoint,
            device=p.device,
            tokenizer_path=str(ws.tokenizer_path(run_id)),
            on_error=cfg.on_error,
            on_leak=getattr(cfg, "on_leak", "drop"),
        )


@dataclass
class Leak:
    """Pool rows whose image is byte-identical to an image of a clean split."""

    split: str
    pool_ids: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def find_leaks(pool: Dataset, other: Dataset, split: str) -> Leak:
    hashes = {other.image_hashes[p] for s in other.samples for p in s.images if other.image_hashes.get(p)}
    leak = Leak(split)
    for s in pool.samples:
        if any(pool.image_hashes.get(p) in hashes for p in s.images):
            leak.pool_ids.append(s.id)
            if len(leak.examples) < 3:
                leak.examples.append(f"{s.id} ({s.source})")
    return leak


def check_leakage(pool: Dataset, other: Dataset, split: str) -> None:
    """Raise `LeakageError` if any pool image is byte-identical to an image of ``other``."""
    leak = find_leaks(pool, other, split)
    if leak.pool_ids:
        raise LeakageError(
            f"{len(leak.pool_ids)} pool sample(s) have an image byte-identical to a {split} image, e.g. "
            f"{', '.join(leak.examples)}: remove them from the pool or {other.path} (or use --on-leak drop)"
        )


def drop_rows(pool: Dataset, ids: set[str]) -> Dataset:
    """The pool without ``ids``; a new fingerprint, so caches never mix the two pools."""
    fp = hashlib.sha256((pool.fingerprint + "\0minus\0" + "\0".join(sorted(ids))).encode()).hexdigest()
    return replace(pool, samples=[s for s in pool.samples if s.id not in ids], fingerprint=fp)


@dataclass
class ProbeEnv:
    pool: Dataset
    splits: dict[str, Dataset]
    trainer: Any
    config: ProbeEnvConfig
    #: pool rows dropped because their image also appears in a clean split (DataComp de-duplicates pools
    #: against evaluation sets): split -> ids.
    leaks: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: ProbeEnvConfig, threads: int | None = None, quiet: bool = False) -> ProbeEnv:
        from recipelab.trainers.images import ImageBank
        from recipelab.trainers.tokenizer import ProbeTokenizer

        cache = Path(cfg.cache_dir)
        pool = read_dataset(cfg.data, on_error=cfg.on_error, cache_dir=cache, quiet=quiet)
        splits = {"eval": read_dataset(cfg.eval, on_error=cfg.on_error, cache_dir=cache, quiet=quiet)}
        if cfg.test:
            splits["test"] = read_dataset(cfg.test, on_error=cfg.on_error, cache_dir=cache, quiet=quiet)
        leaks: dict[str, list[str]] = {}
        for name, ds in splits.items():
            if cfg.on_leak == "fail":
                check_leakage(pool, ds, name)
                continue
            leak = find_leaks(pool, ds, name)
            if leak.pool_ids:
                leaks[name] = leak.pool_ids
        if leaks:
            pool = drop_rows(pool, {i for ids in leaks.values() for i in ids})
        trainer_cls = make_trainer(cfg.task)  # a clear error for an unknown task before any heavy work
        tok = None
        if not cfg.checkpoint:
            tok = ProbeTokenizer.build_or_load(Path(cfg.tokenizer_path), (s.plain_text() for s in pool.samples))
        banks = [ImageBank.from_samples(pool.samples, cfg.image_size, cache_dir=cache / "images", key=pool.fingerprint)]
        for ds in splits.values():
            banks.append(
                ImageBank.from_samples(ds.samples, cfg.image_size, cache_dir=cache / "images", key=ds.fingerprint)
            )
        trainer = trainer_cls(tok, banks, device=cfg.device, threads=threads)
        if hasattr(trainer, "cache_dir"):  # a task that keeps models between probes (t2i's reference CLIP)
            trainer.cache_dir = cache / "models"
        return cls(pool=pool, splits=splits, trainer=trainer, config=cfg, leaks=leaks)

    def run(self, spec: ProbeSpec, split: str = "eval") -> ProbeResult:
        if split not in self.splits:
            raise ProbeError(f"no {split} split was given")
        return self.trainer.run(spec, self.pool.samples, self.splits[split].samples)
