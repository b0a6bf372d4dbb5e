"""The workspace folder: stats cache, dataset cache, memory database, run outputs and the Optuna storage.

Every path of a workspace is named here and nowhere else, so moving a file (or pointing the Optuna
storage at a shared database) is a one-line change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from recipelab.data.reader import Dataset, OnError, read_dataset
from recipelab.operators.stats import StatsCache

ENV_WORKSPACE = "RECIPELAB_WORKSPACE"
ENV_OPTUNA_STORAGE = "RECIPELAB_OPTUNA_STORAGE"
DEFAULT_WORKSPACE = ".recipelab"


def resolve_workspace(path: str | Path | None = None) -> Path:
    """Flag > env RECIPELAB_WORKSPACE > ./.recipelab."""
    if path is None:
        path = os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE
    return Path(path).expanduser()


@dataclass
class Workspace:
    root: Path
    #: Optuna storage URL (any RDB URL optuna accepts); None = the workspace's own SQLite file.
    optuna_url: str | None = None

    @classmethod
    def open(cls, path: str | Path | None = None, optuna_storage: str | None = None) -> Workspace:
        """Create the folder if needed. The Optuna storage: argument > env RECIPELAB_OPTUNA_STORAGE >
        ``<workspace>/optuna.sqlite``."""
        root = resolve_workspace(path)
        root.mkdir(parents=True, exist_ok=True)
        return cls(root=root, optuna_url=optuna_storage or os.environ.get(ENV_OPTUNA_STORAGE) or None)

    # ------------------------------------------------------------------ folders and files
    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def rejects_dir(self) -> Path:
        """Where the reader writes rows it skipped (``<cache>/rejects``)."""
        return self.cache_dir / "rejects"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def tokenizer_path(self, run_id: str) -> Path:
        """The run's one tokenizer, built from its pool (every probe of the run shares it)."""
        return self.run_dir(run_id) / "tokenizer.json"

    def best_recipe_path(self, run_id: str) -> Path:
        """The final recipe as a Data-Juicer config that ``dj-process`` runs unchanged (ops Data-Juicer lacks
        are listed in its comments and side file)."""
        return self.run_dir(run_id) / "best_recipe.yaml"

    def full_recipe_path(self, run_id: str) -> Path:
        """The whole final recipe, recipelab-only ops included (``recipelab apply`` reproduces its pool)."""
        return self.run_dir(run_id) / "best_recipe.recipelab.yaml"

    def summary_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "summary.json"

    def bench_score_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "bench_score.json"

    @property
    def memory_path(self) -> Path:
        return self.root / "memory.sqlite"

    @property
    def chat_history_path(self) -> Path:
        return self.root / "chat_history.txt"

    @property
    def optuna_sqlite_path(self) -> Path:
        return (self.root / "optuna.sqlite").resolve()

    @property
    def optuna_storage(self) -> str:
        """The storage URL of this workspace's Optuna studies."""
        return self.optuna_url or f"sqlite:///{self.optuna_sqlite_path}"

    @property
    def optuna_storage_exists(self) -> bool:
        """False only for the default SQLite file before any study was written (readers must not create it)."""
        return self.optuna_url is not None or self.optuna_sqlite_path.exists()

    # ------------------------------------------------------------------ helpers
    def stats_cache(self) -> StatsCache:
        return StatsCache(self.cache_dir)

    def read(self, path: str | Path, on_error: OnError = "skip", quiet: bool = False) -> Dataset:
        return read_dataset(path, on_error=on_error, cache_dir=self.cache_dir, quiet=quiet)
