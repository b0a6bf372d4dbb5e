"""A real Ray cluster on loopback for the tests: a head node and worker nodes, each a ``ray start --block``
process in its own session, so that teardown stops exactly these processes (never ``ray stop``, which
would end every Ray on the machine)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else (shutil.which("ray") or "ray")


def process_tree(root: int) -> set[int]:
    """``root`` and every process below it (from /proc: no psutil needed)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(children.get(p, []))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


class LoopbackCluster:
    """``ray start --head`` with one CPU plus ``workers`` nodes with one CPU each, all on 127.0.0.1."""

    def __init__(self, workers: int = 1, cpus: int = 1) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp_dir = tempfile.mkdtemp(prefix="rlray", dir="/tmp")  # short: Ray's socket paths live here
        self.procs: list[subprocess.Popen[bytes]] = []
        #: Environment for the nodes and for any driver of this cluster: ``ray start`` makes a token-authenticated
        #: cluster, and a process joining it at an explicit address sends the token only in token mode.
        #: The token is this cluster's own (a fresh machine has no ~/.ray/auth_token, and ``ray start`` in token
        #: mode does not make one), given to every node and driver the way an operator would share it.
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.logs = Path(self.temp_dir) / "start-logs"
        self.logs.mkdir()
        self._start(
            [
                "--head",
                f"--port={self.port}",
                "--include-dashboard=false",
                f"--temp-dir={self.temp_dir}",
                f"--ray-client-server-port={free_port()}",
                f"--dashboard-agent-listen-port={free_port()}",
            ],
            cpus,
        )
        self.wait_nodes(1)
        for _ in range(workers):
            self._start([f"--address={self.address}", f"--dashboard-agent-listen-port={free_port()}"], cpus)
        self.wait_nodes(1 + workers)

    def _start(self, args: list[str], cpus: int) -> None:
        n = len(self.procs)
        log = open(self.logs / f"node{n}.log", "wb")  # noqa: SIM115 - closed with the process
        cmd = [
            ray_cli(),
            "start",
            "--block",
            f"--num-cpus={cpus}",
            "--num-gpus=0",
            "--node-ip-address=127.0.0.1",
            "--disable-usage-stats",
            *args,
        ]
        self.procs.append(
            subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        )

    def nodes_alive(self) -> int:
        try:  # ray.init retries for minutes while nothing listens: ask only once the GCS port answers
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
        except OSError:
            return 0
        code = (
            "import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        try:
            r = subprocess.run(
                [sys.executable, "-c", code, self.address], capture_output=True, text=True, timeout=60, env=self.env
            )
        except subprocess.TimeoutExpired:
            return 0
        return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else 0

    def wait_nodes(self, n: int, timeout_s: float = 90) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"ray start exited {p.returncode}: {self.log_tail()}")
            if self.nodes_alive() >= n:
                return
            time.sleep(1)
        raise TimeoutError(f"{n} Ray node(s) not up in {timeout_s}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return " | ".join(p.read_text(errors="replace")[-600:] for p in sorted(self.logs.glob("*.log")))

    def pids(self) -> set[int]:
        out: set[int] = set()
        for p in self.procs:
            out |= process_tree(p.pid)
        return out

    def probe_workers(self) -> list[int]:
        """Processes of this cluster that run a probe right now (Ray titles them ``ray::_ProbeWorker.run``)."""
        return sorted(pid for pid in self.pids() if cmdline(pid).startswith("ray::_ProbeWorker.run"))

    def stop(self) -> None:
        """SIGTERM each node's ``ray start --block`` session (it stops its own Ray processes), then SIGKILL
        whatever of it is left."""
        pids = self.pids()
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids | {q.pid for q in self.procs}:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)
