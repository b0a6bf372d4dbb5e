"""Everything a probe needs, built once per process: the pool and the clean splits, the run's one
tokenizer, decoded image banks and the trainer.

A worker process rebuilds it from a small JSON-able config; all heavy parts come from caches (dataset
validation, memory-mapped image banks, the tokenizer file), so that costs a second, not a re-decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipelab.data.reader import Dataset, read_dataset
from recipelab.trainers.base import ProbeError, ProbeResult, ProbeSpec


class LeakageError(ValueError):
    """Eval/test images that also appear in the pool: scores on them would reward memorising."""


def check_leakage(pool: Dataset, other: Dataset, split: str) -> None:
    pool_hashes = {pool.image_hashes[p] for s in pool.samples for p in s.images if pool.image_hashes.get(p)}
    leaked = [s for s in other.samples for p in s.images if other.image_hashes.get(p) in pool_hashes]
    if leaked:
        ex = ", ".join(f"{s.id} ({s.source})" for s in leaked[:3])
        raise LeakageError(
            f"{len(leaked)} {split} sample(s) have an image byte-identical to a pool image, e.g. {ex}: "
            f"remove them from {other.path} or the pool"
        )


@dataclass
class ProbeEnv:
    pool: Dataset
    splits: dict[str, Dataset]
    trainer: Any
    config: dict[str, Any]

    @classmethod
    def from_config(cls, cfg: dict[str, Any], threads: int | None = None, quiet: bool = False) -> ProbeEnv:
        from recipelab.trainers.clip import ClipTrainer
        from recipelab.trainers.images import ImageBank
        from recipelab.trainers.tokenizer import ProbeTokenizer

        cache = Path(cfg["cache_dir"])
        on_error = cfg.get("on_error", "skip")
        pool = read_dataset(cfg["data"], on_error=on_error, cache_dir=cache, quiet=quiet)
        splits = {"eval": read_dataset(cfg["eval"], on_error=on_error, cache_dir=cache, quiet=quiet)}
        if cfg.get("test"):
            splits["test"] = read_dataset(cfg["test"], on_error=on_error, cache_dir=cache, quiet=quiet)
        for name, ds in splits.items():
            check_leakage(pool, ds, name)
        task = cfg.get("task", "clip")
        if task != "clip":
            raise ProbeError(f"task {task!r} is not available yet (available: clip)")
        size = int(cfg.get("image_size", 32))
        tok = None
        if not cfg.get("checkpoint"):
            tok = ProbeTokenizer.build_or_load(Path(cfg["tokenizer_path"]), (s.plain_text() for s in pool.samples))
        banks = [ImageBank.from_samples(pool.samples, size, cache_dir=cache / "images", key=pool.fingerprint)]
        for ds in splits.values():
            banks.append(ImageBank.from_samples(ds.samples, size, cache_dir=cache / "images", key=ds.fingerprint))
        trainer = ClipTrainer(tok, banks, device=cfg.get("device"), threads=threads)
        return cls(pool=pool, splits=splits, trainer=trainer, config=cfg)

    def run(self, spec: ProbeSpec, split: str = "eval") -> ProbeResult:
        if split not in self.splits:
            raise ProbeError(f"no {split} split was given")
        return self.trainer.run(spec, self.pool.samples, self.splits[split].samples)
