"""Probes on a Ray cluster (or a local Ray instance): one actor per concurrent probe.

Why actors rather than plain tasks: each worker builds its `ProbeEnv` once (datasets from the cache,
memory-mapped image banks, the run's tokenizer), as a local pool process does, and every later probe on
it costs only training. Each actor asks Ray for its CPUs (torch threads follow) and one GPU when the
probe device is CUDA (or unset on a cluster that has GPUs), so Ray places probes where they fit.

The loop and the memory stay on the driver: only a `ProbeJob` goes out and a `ProbeResult` comes back.
A probe whose worker dies (the process killed or crashed, its node lost, out of memory) is retried once
on a fresh actor; the retry is reported through ``on_retry`` (the CLI writes it into the run's log) and
kept in the outcome's ``retries``; a second death comes back as a failed `JobOutcome` naming both
reasons. ``close()`` kills the actors, so Ctrl-C leaves no probe running; interrupted probes are re-run
by ``--resume`` exactly as with the local executor.

Data paths must be visible to every node at the same path (a shared file system): the environment's
paths are made absolute on the driver before they are sent.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from recipelab.executors.base import JobOutcome, ProbeJob
from recipelab.executors.probe_env import ProbeEnv, ProbeEnvConfig
from recipelab.executors.ray_common import cluster_gpus, ensure_ray, import_ray, node_cpus
from recipelab.trainers.base import ProbeError, ProbeResult

#: Called on the driver when a probe's worker died and the probe is submitted again: (job, reason).
RetryHook = Callable[[ProbeJob, str], None]


class _ProbeWorker:
    """The actor body: builds the probe environment on first use and runs probes on it."""

    def __init__(self, env_config: ProbeEnvConfig, threads: int) -> None:
        self.env_config = env_config
        self.threads = threads
        self.env: ProbeEnv | None = None
        self.env_error: str | None = None
        self._lock = threading.Lock()

    def pid(self) -> int:
        """This worker's process id (answered even while a probe runs: the actor has two threads)."""
        return os.getpid()

    def _ensure_env(self) -> ProbeEnv | None:
        with self._lock:
            if self.env is None and self.env_error is None:
                import torch

                torch.set_num_threads(self.threads)
                try:
                    self.env = ProbeEnv.from_config(self.env_config, threads=self.threads, quiet=True)
                except Exception as e:  # noqa: BLE001 - reported with every probe sent here
                    self.env_error = f"probe environment failed on a Ray worker: {type(e).__name__}: {e}"
        return self.env

    def run(self, job: ProbeJob) -> tuple[ProbeResult | None, str | None]:
        env = self._ensure_env()
        if env is None:
            return None, self.env_error
        try:
            return env.run(job.spec, job.split), None
        except ProbeError as e:
            return None, str(e)
        except Exception as e:  # noqa: BLE001 - a probe's crash must not end the run; it is recorded
            return None, f"{type(e).__name__}: {e}"


def _absolute(cfg: ProbeEnvConfig) -> ProbeEnvConfig:
    """Workers do not share the driver's working directory: send absolute paths."""
    upd: dict[str, Any] = {}
    for name in ("cache_dir", "data", "eval", "test", "tokenizer_path", "checkpoint"):
        v = getattr(cfg, name)
        if v and (name != "checkpoint" or Path(v).exists()):
            upd[name] = str(Path(v).expanduser().resolve())
    return cfg.model_copy(update=upd)


def system_failure(e: BaseException) -> str | None:
    """A one-line reason when ``e`` means the worker (not the probe's code) failed; None otherwise."""
    from ray import exceptions as rx

    retryable: tuple[type[BaseException], ...] = (
        rx.RayActorError,  # ActorDiedError, ActorUnavailableError
        rx.WorkerCrashedError,
        rx.NodeDiedError,
        rx.ObjectLostError,
        rx.OutOfMemoryError,
        rx.LocalRayletDiedError,
    )
    if isinstance(e, rx.RayTaskError):
        cause = getattr(e, "cause", None)
        if isinstance(cause, retryable):
            e = cause
        else:
            return None
    if isinstance(e, retryable):
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
        return f"{type(e).__name__}: {first[:200]}"
    return None


class RayExecutor:
    """``workers`` probes at once, each in its own Ray actor (see the module docstring)."""

    def __init__(
        self,
        env_config: ProbeEnvConfig,
        workers: int = 1,
        address: str | None = None,
        *,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        on_retry: RetryHook | None = None,
    ) -> None:
        self.ray = import_ray()
        self.owns_ray = ensure_ray(address)
        self.workers = max(1, workers)
        self.env_config = _absolute(env_config)
        total, largest = node_cpus()
        if num_cpus is None:  # share the cluster's CPUs among the probes, never more than one node has
            num_cpus = float(max(1, min(int(total // self.workers), int(largest))))
        if num_gpus is None:
            dev = (self.env_config.device or "").lower()
            num_gpus = 1.0 if dev.startswith("cuda") or (not dev and cluster_gpus() >= 1) else 0.0
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.on_retry = on_retry
        #: (job key, reason) of every retry, in order: what `on_retry` was told.
        self.retries: list[tuple[Any, str]] = []
        self._actor_cls = self.ray.remote(_ProbeWorker).options(
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            max_restarts=0,
            max_task_retries=0,
            max_concurrency=2,  # run() and pid(); the driver sends one probe at a time
        )
        self._actors: list[Any] = []
        self._closed = False

    # ------------------------------------------------------------------ actors
    def _new_actor(self) -> Any:
        threads = max(1, int(self.num_cpus))
        return self._actor_cls.remote(self.env_config, threads)

    def _fill(self) -> None:
        while len(self._actors) < self.workers:
            self._actors.append(self._new_actor())

    def _drop(self, actor: Any) -> None:
        self._actors = [a for a in self._actors if a is not actor]
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def worker_pids(self, timeout_s: float = 60.0) -> list[int]:
        """The process id of each live actor (diagnostics, and the tests that kill one mid-probe)."""
        self._fill()
        pids = []
        for a in list(self._actors):
            try:
                pids.append(int(self.ray.get(a.pid.remote(), timeout=timeout_s)))
            except self.ray.exceptions.RayActorError:  # died, and not replaced yet: it has no process
                continue
        return pids

    # ------------------------------------------------------------------ Executor
    def run(self, jobs: Sequence[ProbeJob]) -> Iterator[JobOutcome]:
        if self._closed:
            raise RuntimeError("the Ray executor is closed")
        self._fill()
        todo: deque[tuple[ProbeJob, list[str]]] = deque((j, []) for j in jobs)
        idle: list[Any] = list(self._actors)
        running: dict[Any, tuple[ProbeJob, list[str], Any]] = {}  # ref -> (job, retry reasons, actor)
        try:
            while todo or running:
                while todo and idle:
                    job, reasons = todo.popleft()
                    actor = idle.pop()
                    running[actor.run.remote(job)] = (job, reasons, actor)
                ready, _ = self.ray.wait(list(running), num_returns=1)
                ref = ready[0]
                job, reasons, actor = running.pop(ref)
                try:
                    result, error = self.ray.get(ref)
                except Exception as e:  # noqa: BLE001 - sorted below: a dead worker or a probe error
                    reason = system_failure(e)
                    if reason is None:
                        idle.append(actor)
                        yield JobOutcome(job, None, f"{type(e).__name__}: {e}", retries=reasons)
                        continue
                    self._drop(actor)
                    self._fill()
                    busy = {id(r[2]) for r in running.values()}
                    idle = [a for a in self._actors if id(a) not in busy]
                    if not reasons:
                        reasons = [reason]
                        self.retries.append((job.key, reason))
                        if self.on_retry is not None:
                            self.on_retry(job, reason)
                        todo.appendleft((job, reasons))
                        continue
                    yield JobOutcome(
                        job,
                        None,
                        f"Ray worker died twice running this probe (retried once): first {reasons[0]}; then {reason}",
                        retries=[*reasons, reason],
                    )
                    continue
                idle.append(actor)
                yield JobOutcome(job, result, error, retries=reasons)
        finally:
            # Ctrl-C, or the consumer stopped early: no probe may keep running. Killing its actor is the
            # one cancellation that stops a running synchronous actor task; a fresh actor is started by the
            # next run().
            for _, _, actor in running.values():
                self._drop(actor)

    def close(self) -> None:
        """Kill the actors (and their running probes); leave Ray only if this executor joined it."""
        if self._closed:
            return
        self._closed = True
        for a in self._actors:
            try:
                self.ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors = []
        if self.owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
