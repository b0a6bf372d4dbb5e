"""Executors: where probes run (this process, a local process pool)."""

from recipelab.executors.base import Executor, JobOutcome, ProbeJob
from recipelab.executors.local import InProcessExecutor, LocalPoolExecutor

__all__ = ["Executor", "InProcessExecutor", "JobOutcome", "LocalPoolExecutor", "ProbeJob"]
