"""Probes in this process (workers=1) or in a pool of local processes (workers=K).

Each worker builds its own `ProbeEnv` once (datasets from the cache, image banks memory-mapped, the
run's tokenizer from its file) and sets torch threads to cores // K, so K probes share the CPU
instead of fighting over it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from recipelab.executors.base import Executor, JobOutcome, ProbeJob
from recipelab.executors.probe_env import ProbeEnv, ProbeEnvConfig
from recipelab.trainers.base import ProbeError

_ENV: ProbeEnv | None = None


def _init_worker(env_config: ProbeEnvConfig, threads: int) -> None:
    global _ENV
    import torch

    torch.set_num_threads(threads)
    _ENV = ProbeEnv.from_config(env_config, threads=threads, quiet=True)


def _run_in_worker(job: ProbeJob) -> JobOutcome:
    assert _ENV is not None
    return _run(_ENV, job)


def _run(env: ProbeEnv, job: ProbeJob) -> JobOutcome:
    try:
        return JobOutcome(job, env.run(job.spec, job.split), None)
    except ProbeError as e:
        return JobOutcome(job, None, str(e))
    except Exception as e:  # noqa: BLE001 - a probe's crash must not end the run; it is recorded
        return JobOutcome(job, None, f"{type(e).__name__}: {e}")


class InProcessExecutor:
    workers = 1

    def __init__(self, env: ProbeEnv) -> None:
        self.env = env

    def run(self, jobs: Sequence[ProbeJob]) -> Iterator[JobOutcome]:
        for job in jobs:
            yield _run(self.env, job)

    def close(self) -> None:
        pass


class LocalPoolExecutor:
    def __init__(self, env_config: ProbeEnvConfig, workers: int) -> None:
        self.workers = workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(env_config, threads))

    def run(self, jobs: Sequence[ProbeJob]) -> Iterator[JobOutcome]:
        futs: set[Future] = {self.pool.submit(_run_in_worker, j) for j in jobs}
        try:
            while futs:
                done, futs = wait(futs, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        finally:
            for f in futs:
                f.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_executor(
    env: ProbeEnv | ProbeEnvConfig,
    workers: int = 1,
    kind: str = "local",
    ray_address: str | None = None,
    on_retry: Callable[[ProbeJob, str], None] | None = None,
) -> Executor:
    """``kind="local"``: this process for one worker (reusing ``env``, built here from a bare config), else
    a pool of ``workers`` local processes. ``kind="ray"``: ``workers`` Ray actors on the cluster at
    ``ray_address`` (None: a local Ray instance), each rebuilding the environment from its config, so a
    bare `ProbeEnvConfig` is enough (the CLI makes the executor before the loop reads the data);
    ``on_retry`` hears of each probe sent again after its worker died."""
    config = env if isinstance(env, ProbeEnvConfig) else env.config
    if kind == "ray":
        from recipelab.executors.ray_executor import RayExecutor

        return RayExecutor(config, workers, ray_address, on_retry=on_retry)
    if kind != "local":
        raise ValueError(f"unknown executor {kind!r}: local or ray")
    if workers > 1:
        return LocalPoolExecutor(config, workers)
    return InProcessExecutor(env if isinstance(env, ProbeEnv) else ProbeEnv.from_config(config))
