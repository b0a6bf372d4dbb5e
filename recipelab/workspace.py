"""The workspace folder: stats cache, dataset cache, memory database and run outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from recipelab.data.reader import Dataset, OnError, read_dataset
from recipelab.operators.stats import StatsCache

ENV_WORKSPACE = "RECIPELAB_WORKSPACE"
DEFAULT_WORKSPACE = ".recipelab"


def resolve_workspace(path: str | Path | None = None) -> Path:
    """Flag > env RECIPELAB_WORKSPACE > ./.recipelab."""
    if path is None:
        path = os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE
    return Path(path).expanduser()


@dataclass
class Workspace:
    root: Path

    @classmethod
    def open(cls, path: str | Path | None = None) -> Workspace:
        root = resolve_workspace(path)
        root.mkdir(parents=True, exist_ok=True)
        return cls(root=root)

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def memory_path(self) -> Path:
        return self.root / "memory.sqlite"

    def stats_cache(self) -> StatsCache:
        return StatsCache(self.cache_dir)

    def read(self, path: str | Path, on_error: OnError = "skip", quiet: bool = False) -> Dataset:
        return read_dataset(path, on_error=on_error, cache_dir=self.cache_dir, quiet=quiet)
