"""Several processes on one memory file, and crashes (SIGKILL) at arbitrary points."""

from __future__ import annotations

import json
import signal
import sys
import time

import pytest

from recipelab.memory import Memory

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_concurrent_writer_process(mem: Memory, db_path, spawn):
    run_id = mem.create_run({}, {})
    n = 150
    proc = spawn(
        """
        import sys
        from recipelab.memory import Memory
        m = Memory(sys.argv[1])
        for i in range(int(sys.argv[3])):
            m.log_event(sys.argv[2], "probe", f"child {i}", {"i": i})
        m.close()
        """,
        str(db_path),
        run_id,
        str(n),
    )
    seen, last, mine = [], None, 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        new = mem.events(run_id, kinds="probe", after_id=last)
        seen += new
        if new:
            last = new[-1]["id"]
        mem.add_message(run_id, "user", f"parent {mine}")  # we write too, at the same time
        mine += 1
        if proc.poll() is not None and len(seen) >= n:
            break
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    seen += mem.events(run_id, kinds="probe", after_id=last)
    assert [e["payload"]["i"] for e in seen] == list(range(n))  # every event, in order, once
    assert len(mem.messages(run_id)) == mine


CRASH_SCRIPT = """
import json, os, signal, sys
from recipelab.memory import Memory
m = Memory(sys.argv[1])
run_id = m.create_run({"task": "clip"}, {"probes": 5})
m.set_run_status(run_id, "running")
done = m.add_experiment(run_id, "fp-done", purpose="baseline")
m.start_experiment(done)
m.finish_experiment(done, {"r1": 0.3}, primary="r1")
eid = m.add_experiment(run_id, "fp-running", purpose="tertile:x:low")
m.start_experiment(eid)
m.log_event(run_id, "probe", "started", {"experiment": eid})
print(json.dumps({"run": run_id, "exp": eid, "done": done}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_crash_then_mark_interrupted(db_path, spawn):
    proc = spawn(CRASH_SCRIPT, str(db_path))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL, err
    ids = json.loads(out.strip().splitlines()[-1])

    m = Memory(db_path)
    assert m.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert m.get_run(ids["run"])["status"] == "running"
    assert m.get_experiment(ids["exp"])["status"] == "running"

    assert m.mark_interrupted(ids["run"]) == 1
    assert m.get_run(ids["run"])["status"] == "interrupted"  # its pid is dead
    assert m.get_experiment(ids["exp"])["status"] == "interrupted"
    assert m.get_experiment(ids["done"])["status"] == "done"  # never re-run
    assert m.find_done("fp-done")["id"] == ids["done"]
    assert m.mark_interrupted(ids["run"]) == 0  # idempotent

    # resume: the interrupted probe runs again as attempt 2
    m.set_run_status(ids["run"], "running")
    assert m.start_experiment(ids["exp"]) == 2
    m.close()


def test_kill_at_random_points_leaves_consistent_db(db_path, spawn):
    mem = Memory(db_path)
    run_id = mem.create_run({}, {})
    mem.close()
    proc = spawn(
        """
        import sys
        from recipelab.memory import Memory
        m = Memory(sys.argv[1])
        i = 0
        print("ready", flush=True)
        while True:
            e = m.add_experiment(sys.argv[2], f"fp{i}", recipe={"i": i}, purpose=f"optuna:{i}")
            m.start_experiment(e)
            m.log_event(sys.argv[2], "probe", "start", {"e": e})
            if i % 3 == 0:
                m.fail_experiment(e, "bad")
            else:
                m.finish_experiment(e, {"m": i / 10}, {"i": i}, primary="m")
            i += 1
        """,
        str(db_path),
        run_id,
    )
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.4)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)

    m = Memory(db_path)
    assert m.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert m.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    rows = m.experiments(run_id)
    assert len(rows) > 3
    for r in rows:
        if r["status"] == "done":
            assert r["metrics"] == {"m": int(r["fingerprint"][2:]) / 10} and r["finished_at"] and r["attempts"] == 1
            assert r["primary_value"] == r["metrics"]["m"]
        elif r["status"] == "failed":
            assert r["error"] == "bad" and r["finished_at"]
        elif r["status"] == "running":
            assert r["started_at"] and r["finished_at"] is None and r["attempts"] == 1
        else:
            assert r["status"] == "queued" and r["attempts"] == 0 and r["started_at"] is None
    assert sum(r["status"] == "running" for r in rows) <= 1
    m.mark_interrupted(run_id)
    assert not m.experiments(run_id, status="running")
    m.close()
