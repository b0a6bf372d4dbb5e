from __future__ import annotations

import hashlib
import os
import re

import pytest

from recipelab.memory import Memory, experiment_fingerprint


def test_run_lifecycle(mem: Memory):
    run_id = mem.create_run({"task": "clip", "seed": 0}, {"probes": 10})
    assert re.fullmatch(r"r-\d{8}-[0-9a-f]{4}", run_id)
    run = mem.get_run(run_id)
    assert run["status"] == "created" and run["budget"] == {"probes": 10} and run["summary"] is None
    mem.set_run_status(run_id, "running")
    run = mem.get_run(run_id)
    assert run["status"] == "running" and run["pid"] == os.getpid() and run["host"]
    assert run["updated_at"] >= run["created_at"]
    mem.update_run(run_id, summary={"best": 0.4}, budget={"probes": 20})
    assert mem.get_run(run_id)["summary"] == {"best": 0.4}
    with pytest.raises(ValueError):
        mem.set_run_status(run_id, "exploded")
    with pytest.raises(ValueError):
        mem.update_run(run_id, colour="red")
    with pytest.raises(KeyError):
        mem.update_run("r-missing", status="done")
    other = mem.create_run({}, {})
    assert [r["id"] for r in mem.list_runs()] == [other, run_id]
    assert [r["id"] for r in mem.list_runs(status="running")] == [run_id]
    assert mem.get_run("r-missing") is None


def test_fingerprint_is_stable_and_sensitive():
    a = experiment_fingerprint("ds1", "rc1", {"lr": 1e-3, "steps": 100, "model": {"dim": 64}}, 0, 512)
    b = experiment_fingerprint("ds1", "rc1", {"model": {"dim": 64}, "steps": 100, "lr": 1e-3}, 0, 512)
    assert a == b and re.fullmatch(r"[0-9a-f]{64}", a)
    cfg = {"lr": 1e-3, "steps": 100, "model": {"dim": 64}}
    variants = [
        ("ds2", "rc1", cfg, 0, 512),
        ("ds1", "rc2", cfg, 0, 512),
        ("ds1", "rc1", {**cfg, "lr": 2e-3}, 0, 512),
        ("ds1", "rc1", cfg, 1, 512),
        ("ds1", "rc1", cfg, 0, 256),
    ]
    assert len({a, *(experiment_fingerprint(*v) for v in variants)}) == 6
    assert Memory.experiment_fingerprint("d", "r", {}, 0, 1) == experiment_fingerprint("d", "r", {}, 0, 1)


def test_fingerprint_golden_value():
    # The exact bytes hashed; if this changes, caches from older runs stop hitting.
    canonical = b'{"dataset":"d","recipe":"r","seed":0,"size":10,"trainer":{"a":1},"v":1}'
    assert experiment_fingerprint("d", "r", {"a": 1}, 0, 10) == hashlib.sha256(canonical).hexdigest()


def test_experiment_lifecycle_and_cache_hit(mem: Memory):
    run1 = mem.create_run({}, {})
    fp = experiment_fingerprint("ds", "rc", {"steps": 10}, 0, 100)
    assert mem.find_done(fp) is None
    recipe = {"process": [{"text_length_filter": {"min_len": 10}}]}
    eid = mem.add_experiment(
        run1,
        fp,
        recipe=recipe,
        recipe_yaml="process: []\n",
        spec={"task": "clip"},
        seed=0,
        train_size=100,
        kept_size=800,
        purpose="tertile:text_length_filter:low",
        step=1,
    )
    assert mem.add_experiment(run1, fp) == eid  # idempotent per run
    row = mem.get_experiment(eid)
    assert row["status"] == "queued" and row["attempts"] == 0 and row["recipe"] == recipe
    assert row["recipe_fp"] and len(row["recipe_fp"]) == 64

    assert mem.start_experiment(eid) == 1
    with pytest.raises(ValueError):
        mem.start_experiment(eid)  # already running
    mem.fail_experiment(eid, "CUDA OOM")
    assert mem.get_experiment(eid)["status"] == "failed"
    assert mem.start_experiment(eid) == 2
    assert mem.find_done(fp) is None
    mem.finish_experiment(eid, {"r@1": 0.25, "r@5": 0.6}, {"device": "cpu"}, primary="r@1", kept_size=790)
    row = mem.get_experiment(eid)
    assert row["status"] == "done" and row["error"] is None and row["primary_value"] == 0.25
    assert row["kept_size"] == 790 and row["wall_time_s"] >= 0 and row["finished_at"]
    with pytest.raises(ValueError):
        mem.start_experiment(eid)  # a finished probe is never run twice

    # cache hit from another run
    run2 = mem.create_run({}, {})
    hit = mem.find_done(fp)
    assert hit is not None and hit["id"] == eid and hit["metrics"] == {"r@1": 0.25, "r@5": 0.6}
    reused = mem.reuse_experiment(run2, hit["id"], purpose="baseline")
    r = mem.get_experiment(reused)
    assert r["run_id"] == run2 and r["status"] == "done" and r["cached_from"] == eid
    assert r["metrics"] == hit["metrics"] and r["purpose"] == "baseline"
    assert mem.reuse_experiment(run2, eid) == reused


def test_experiments_query_and_sorting(mem: Memory):
    run_id = mem.create_run({}, {})
    ids = []
    for i, v in enumerate([0.2, None, 0.9, 0.5]):
        e = mem.add_experiment(run_id, f"fp{i}", purpose=f"optuna:{i}")
        ids.append(e)
        if v is not None:
            mem.start_experiment(e)
            mem.finish_experiment(e, {"m": v}, primary=v)
    assert [e["id"] for e in mem.experiments(run_id)] == ids
    assert [e["id"] for e in mem.experiments(run_id, status="queued")] == [ids[1]]
    assert [e["id"] for e in mem.experiments(run_id, order_by="primary")] == [ids[2], ids[3], ids[0], ids[1]]
    assert [e["id"] for e in mem.experiments(run_id, order_by="primary_asc", limit=1)] == [ids[0]]
    assert mem.experiments(purpose="optuna:2")[0]["metrics"] == {"m": 0.9}
    assert mem.experiments(run_id, status=["done", "queued"], limit=2)[0]["id"] == ids[0]


def test_events_directives_messages(mem: Memory):
    run_id = mem.create_run({}, {})
    e1 = mem.log_event(run_id, "plan", "try tertiles", {"ops": ["a", "b"]})
    e2 = mem.log_event(run_id, "llm", "call", {"tokens": 120, "cost": 0.001})
    e3 = mem.log_event(run_id, "decision", "keep a")
    with pytest.raises(ValueError):
        mem.log_event(run_id, "gossip", "x")
    assert [e["id"] for e in mem.events(run_id)] == [e1, e2, e3]
    assert [e["id"] for e in mem.events(run_id, after_id=e1)] == [e2, e3]
    assert [e["payload"] for e in mem.events(run_id, kinds=["llm"])] == [{"tokens": 120, "cost": 0.001}]
    assert [e["id"] for e in mem.events(run_id, limit=1)] == [e1]

    d1 = mem.add_directive(run_id, "pause", None, "cli")
    d2 = mem.add_directive(run_id, "ban_op", {"op": "x"}, "chat")
    assert [d["id"] for d in mem.pending_directives(run_id)] == [d1, d2]
    assert mem.resolve_directive(d1, "applied", "paused") is True
    assert mem.resolve_directive(d1, "rejected", "again") is False  # only once
    assert [d["id"] for d in mem.pending_directives(run_id)] == [d2]
    d = mem.directives(run_id)[0]
    assert d["status"] == "applied" and d["result"] == "paused" and d["applied_at"]
    with pytest.raises(ValueError):
        mem.resolve_directive(d2, "pending")

    m0 = mem.add_message(None, "user", "hello, no run")
    m1 = mem.add_message(run_id, "user", "why op a?")
    m2 = mem.add_message(run_id, "assistant", "because", {"tool_calls": []})
    assert [m["id"] for m in mem.messages(run_id)] == [m1, m2]
    assert [m["id"] for m in mem.messages(run_id, limit=1)] == [m2]
    assert [m["id"] for m in mem.messages(None)] == [m0]


def test_mark_interrupted_in_process(mem: Memory):
    run_id = mem.create_run({}, {})
    mem.set_run_status(run_id, "running")  # our own pid: alive, but it is us
    a, b = mem.add_experiment(run_id, "a"), mem.add_experiment(run_id, "b")
    mem.start_experiment(a)
    assert mem.mark_interrupted(run_id) == 1
    assert mem.get_experiment(a)["status"] == "interrupted"
    assert mem.get_experiment(b)["status"] == "queued"
    assert mem.get_run(run_id)["status"] == "running"  # our process is alive
    assert mem.start_experiment(a) == 2
    assert mem.mark_interrupted(run_id) == 1


def test_mark_interrupted_refuses_live_foreign_process(mem: Memory):
    run_id = mem.create_run({}, {})
    mem.set_run_status(run_id, "running")
    mem.update_run(run_id, pid=os.getppid())  # another live process on this host
    with pytest.raises(RuntimeError, match="still active"):
        mem.mark_interrupted(run_id)


def test_thread_safety(mem: Memory):
    import threading

    run_id = mem.create_run({}, {})

    def work(k):
        for i in range(50):
            mem.log_event(run_id, "info", f"{k}:{i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(mem.events(run_id)) == 200
