"""``search --executor ray`` against a real Ray cluster on loopback (a head node and a worker node started
here): a probe whose worker is killed mid-probe is retried once and the retry is in the run's log, Ctrl-C
leaves the run resumable, and ``--resume`` finishes it with no probe run twice. Also: an unreachable
address is a one-line error in seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")

from recipelab.memory import Memory  # noqa: E402
from tests.cli._cli import invoke  # noqa: E402
from tests.executors._ray_cluster import LoopbackCluster, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--steps", "3", "--batch-size", "8", "--train-size", "32"]


def test_unreachable_ray_address_is_one_line_error(tiny_bench: Path, tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = invoke(
        "search", "--data", str(tiny_bench / "pool.jsonl"), "--eval", str(tiny_bench / "eval.jsonl"),
        "--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}", ws=tmp_path / "ws",
    )  # fmt: skip
    assert r.exit_code == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Ray at 127.0.0.1:"), r.stderr
    assert time.monotonic() - t0 < 30
    mem = Memory(tmp_path / "ws" / "memory.sqlite")
    assert [run["status"] for run in mem.list_runs()] == ["failed"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    c = LoopbackCluster(workers=1, cpus=1)
    try:
        yield c
    finally:
        c.stop()


def _search(cluster: LoopbackCluster, *args: str) -> subprocess.Popen[str]:
    env = {**cluster.env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "recipelab", "search", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(pred, timeout_s: float, what: str) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_search_on_loopback_cluster_survives_killed_worker_ctrl_c_and_resume(
    cluster: LoopbackCluster, tiny_bench: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    common = ["--workspace", str(ws), "--json"]
    p = _search(
        cluster,
        "--data", str(tiny_bench / "pool.jsonl"), "--eval", str(tiny_bench / "eval.jsonl"),
        "--executor", "ray", "--ray-address", cluster.address, "--workers", "2",
        "--budget-probes", "4", "--test-seeds", "0", "--ops", "text_length_filter", *TINY, *common,
    )  # fmt: skip
    try:
        # a probe runs on a node of the cluster: kill its worker process under it
        _wait(lambda: cluster.probe_workers() or p.poll() is not None, 240, "a probe on the cluster")
        assert p.poll() is None, p.communicate()
        victim = cluster.probe_workers()[0]
        os.kill(victim, signal.SIGKILL)
        mem = Memory(ws / "memory.sqlite")
        run_id = mem.list_runs()[0]["id"]

        def retried() -> bool:
            return any("retried once" in e["message"] for e in mem.events(run_id))

        _wait(lambda: retried() or p.poll() is not None, 120, "the retry in the run's log")
        assert retried(), p.communicate()
        # then Ctrl-C while probes run (the loop records whatever finished; the rest is re-run on resume)
        _wait(lambda: cluster.probe_workers() or p.poll() is not None, 120, "the next probe")
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        if p.returncode == 130:  # interrupted: resumable, and no probe keeps running on the cluster
            assert "resume with: recipelab search --resume" in err
            assert mem.get_run(run_id)["status"] == "interrupted"
            _wait(lambda: not cluster.probe_workers(), 30, "the interrupted probes to stop")
            r = _search(cluster, "--resume", run_id, "--ray-address", cluster.address, *common)
            out, err = r.communicate(timeout=300)
            assert r.returncode == 0, err
        else:  # the search ended before the signal came: it must have ended well
            assert p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
    run = mem.get_run(run_id)
    assert run["status"] == "done" and run["config"]["executor"] == "ray"
    done = mem.experiments(run_id, status="done")
    assert len(done) == 4
    # no probe ran twice to completion: one result in the log per experiment, and distinct fingerprints
    probe_events = mem.events(run_id, kinds="probe")
    results = [e["payload"]["experiment"] for e in probe_events if "metrics" in (e["payload"] or {})]
    assert sorted(results) == sorted({*results}) and len({e["fingerprint"] for e in done}) == 4
    retry = [e for e in mem.events(run_id) if "retried once" in e["message"]]
    assert retry and "ActorDiedError" in retry[0]["message"]
