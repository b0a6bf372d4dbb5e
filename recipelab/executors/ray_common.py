"""Joining or starting Ray, shared by the Ray executor and the Ray Data stats path.

Ray is imported lazily and only here, so ``recipelab`` works (and its CLI starts fast) without it; a
missing install or an unreachable cluster becomes one clear line (`RayUnavailableError`, a
ValueError, which the CLI prints as it prints bad input) instead of a traceback from deep in Ray.
"""

from __future__ import annotations

import logging
import os
import socket
from types import ModuleType
from typing import Any


class RayUnavailableError(ValueError):
    """Ray is not installed, or the cluster at the given address cannot be joined."""


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError as e:
        raise RayUnavailableError(
            f"--executor ray needs Ray: pip install 'ray[data]>=2.40' (import failed: {e})"
        ) from None
    return ray


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray; True when this call started or joined it (the caller then owns the
    connection and shuts it down), False when Ray was already initialised (e.g. by a test or a notebook).

    ``address``: None starts a local instance; ``auto`` joins the cluster started on this machine with
    ``ray start``; ``ray://HOST:PORT`` goes through the Ray Client; ``HOST:PORT`` joins a GCS directly."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "log_to_driver": os.environ.get("RECIPELAB_RAY_LOG_TO_DRIVER", "0") == "1",
        "include_dashboard": False,
    }
    if address:
        kw.pop("include_dashboard")
        check_reachable(address)
    elif num_cpus is not None:
        kw["num_cpus"] = num_cpus
    try:
        ray.init(address=address, **kw)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as e:
        where = address or "a new local instance"
        msg = " ".join(str(e).split())[:300]
        if address and address != "auto" and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            # Ray sends its token to an explicit address only when asked to (``auto`` finds it by itself).
            msg += (
                "; if the cluster uses token authentication (the default of `ray start`), set RAY_AUTH_MODE=token "
                "with its token in ~/.ray/auth_token or RAY_AUTH_TOKEN"
            )
        raise RayUnavailableError(f"cannot connect to Ray at {where}: {msg}") from None
    return True


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with one line, when nothing listens at a HOST:PORT address (``ray.init`` itself
    retries for a minute or more before it gives up). ``auto`` and ``local`` are left to Ray."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailableError(f"bad Ray address {address!r}: use auto, ray://HOST:PORT or HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise RayUnavailableError(f"cannot reach Ray at {address}: nothing answers at {host}:{port} ({why})") from None


def node_cpus() -> tuple[float, float]:
    """(CPUs of the cluster, CPUs of its largest alive node): an actor must fit on one node."""
    ray = import_ray()
    total = float(ray.cluster_resources().get("CPU", 0.0))
    largest = max((float(n.get("Resources", {}).get("CPU", 0.0)) for n in ray.nodes() if n.get("Alive")), default=0.0)
    return total, largest


def cluster_gpus() -> float:
    return float(import_ray().cluster_resources().get("GPU", 0.0))
