"""Executors: where probes run (this process, a local process pool, Ray actors), and the probe environment they
run in. The Ray modules (`ray_executor`, `ray_stats`) import Ray lazily: import them by name."""

from recipelab.executors.base import Executor, JobOutcome, ProbeJob
from recipelab.executors.local import InProcessExecutor, LocalPoolExecutor, make_executor
from recipelab.executors.probe_env import LeakageError, ProbeEnv, ProbeEnvConfig, check_leakage

__all__ = [
    "Executor",
    "InProcessExecutor",
    "JobOutcome",
    "LeakageError",
    "LocalPoolExecutor",
    "ProbeEnv",
    "ProbeEnvConfig",
    "ProbeJob",
    "check_leakage",
    "make_executor",
]
