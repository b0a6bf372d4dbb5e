"""Real processes: `recipelab search` in a subprocess with tiny real probes (torch training on CPU).

- kill -9 mid-run, then --resume: nothing finished is re-run, nothing lost, the interrupted probe re-run once;
- a directive written by another process (the chat CLI) changes what the running loop does next.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recipelab.memory import Memory

pytestmark = pytest.mark.slow

TINY = """probe:
  steps: 3
  batch_size: 16
  image_size: 16
  train_size: 48
  min_train_size: 16
ops: [text_length_filter, words_num_filter, special_characters_filter, image_shape_filter, image_entropy_filter]
test_seeds: 0
"""


def cli(*args: str, ws: Path, **kw) -> subprocess.Popen:  # noqa: ANN003
    env = {**os.environ, "RECIPELAB_WORKSPACE": str(ws), "PYTHONUNBUFFERED": "1"}
    # stderr (progress lines) goes to a file so a full pipe can never block the child
    log = open(ws.parent / f"stderr-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
    # A shell without job control starts background jobs with SIGINT ignored, and an ignored signal stays
    # ignored across exec (Python then never raises KeyboardInterrupt): give the child the default back, as a
    # user's terminal would.
    return subprocess.Popen(
        [sys.executable, "-m", "recipelab", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
        **kw,
    )


def start_search(bench: Path, ws: Path, budget: int) -> subprocess.Popen:
    (ws.parent / "cfg.yaml").write_text(TINY)
    return cli(
        "search",
        "--data",
        str(bench / "pool.jsonl"),
        "--eval",
        str(bench / "eval.jsonl"),
        "--config",
        str(ws.parent / "cfg.yaml"),
        "--budget-probes",
        str(budget),
        ws=ws,
    )


def wait_for(pred, timeout: float = 240.0, what: str = "") -> None:  # noqa: ANN001
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def run_id_of(mem: Memory) -> str | None:
    runs = mem.list_runs()
    return runs[0]["id"] if runs else None


def done_count(mem: Memory, rid: str | None) -> int:
    return len(mem.experiments(rid, status="done")) if rid else 0


def test_kill_9_then_resume_loses_nothing(tiny_bench: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    proc = start_search(tiny_bench, ws, budget=10)
    wait_for(lambda: (ws / "memory.sqlite").exists(), what="memory file")
    mem = Memory(ws / "memory.sqlite")
    wait_for(
        lambda: done_count(mem, run_id_of(mem)) >= 3 and bool(mem.experiments(run_id_of(mem), status="running")),
        timeout=600.0,  # a loaded machine (another job on the other core) took over 240 s here
        what="3 finished probes and one running",
    )
    rid = run_id_of(mem)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {e["id"]: (e["status"], e["primary_value"], e["attempts"]) for e in mem.experiments(rid)}
    assert (mem.get_run(rid) or {})["status"] == "running"  # what a crash leaves behind
    # the kill landed mid-probe: a probe was running (else this test would not test the interruption)
    assert [eid for eid, (st, _, _) in before.items() if st == "running"]

    res = cli("search", "--resume", rid, "--json", ws=ws)
    out, _ = res.communicate(timeout=600)
    assert res.returncode == 0, out
    summary = json.loads(out)
    assert summary["status"] == "done" and summary["probes"] == 10
    after = {e["id"]: e for e in mem.experiments(rid)}
    for eid, (status, value, attempts) in before.items():
        if status == "done":  # finished probes kept their result and were not re-run
            assert after[eid]["primary_value"] == value and after[eid]["attempts"] == attempts
        elif status == "running":  # the interrupted probe ran once more
            assert after[eid]["status"] in ("done", "failed") and after[eid]["attempts"] == attempts + 1
    fps = [e["fingerprint"] for e in after.values()]
    assert len(fps) == len(set(fps))
    assert any("resumed" in e["message"] for e in mem.events(rid, kinds="info"))


def test_directive_from_another_process_changes_the_next_step(tiny_bench: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    proc = start_search(tiny_bench, ws, budget=40)
    try:
        wait_for(lambda: (ws / "memory.sqlite").exists(), what="memory file")
        mem = Memory(ws / "memory.sqlite")
        wait_for(lambda: done_count(mem, run_id_of(mem)) >= 2, what="baseline probes")
        rid = run_id_of(mem)
        # a second process (the chat CLI, slash commands) pauses the run
        r = cli("chat", rid, "-m", "/pause", "--no-llm", ws=ws)
        assert r.wait(timeout=120) == 0
        wait_for(lambda: (mem.get_run(rid) or {})["status"] == "paused", timeout=240, what="paused")
        n_paused = len(mem.experiments(rid))
        time.sleep(3)
        assert len(mem.experiments(rid)) == n_paused  # nothing new while paused
        target = n_paused + 4
        for msg in ("/ban image_entropy_filter", f"/budget {target}", "/resume"):
            r = cli("chat", rid, "-m", msg, "--no-llm", ws=ws)
            assert r.wait(timeout=120) == 0
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
    exps = mem.experiments(rid)
    assert len(exps) == target  # the new budget
    applied = {d["kind"]: d for d in mem.directives(rid)}
    assert applied["ban"]["status"] == "applied"
    later = [e for e in exps if e["created_at"] > applied["ban"]["applied_at"]]
    assert later, "no probe ran after the ban"
    assert all("image_entropy_filter" not in json.dumps(e["recipe"]) for e in later)
    logged = [e["message"] for e in mem.events(rid, kinds="directive")]
    assert any("ban image_entropy_filter" in m for m in logged)
    assert any("pause" in m for m in logged)


def test_workers_run_probes_in_parallel_processes(tiny_bench: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "cfg.yaml").write_text(TINY)
    p = cli(
        "search",
        "--data",
        str(tiny_bench / "pool.jsonl"),
        "--eval",
        str(tiny_bench / "eval.jsonl"),
        "--config",
        str(tmp_path / "cfg.yaml"),
        "--budget-probes",
        "8",
        "--workers",
        "2",
        "--json",
        ws=ws,
    )
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out
    doc = json.loads(out)
    assert doc["status"] == "done" and doc["probes"] == 8
    mem = Memory(ws / "memory.sqlite")
    exps = mem.experiments(doc["run_id"])
    assert all(e["status"] == "done" for e in exps)
    # the two baseline seeds were submitted together and overlapped in time
    a, b = exps[0], exps[1]
    assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]


def test_ctrl_c_exits_130_and_prints_the_resume_command(tiny_bench: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    proc = start_search(tiny_bench, ws, budget=40)
    wait_for(lambda: (ws / "memory.sqlite").exists(), what="memory file")
    mem = Memory(ws / "memory.sqlite")
    wait_for(lambda: done_count(mem, run_id_of(mem)) >= 2, what="baseline probes")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    assert proc.returncode == 130
    log = sorted(ws.parent.glob("stderr-*.log"))[0].read_text()
    rid = run_id_of(mem)
    assert f"recipelab search --resume {rid}" in log
    assert (mem.get_run(rid) or {})["status"] == "interrupted"
    assert not mem.experiments(rid, status="running")
