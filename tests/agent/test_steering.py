"""Directives: validation, the steering fold, and their application between planning steps."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from recipelab.agent.steering import DirectiveApplier, DirectiveError, StopRun, fold, validate_directive
from recipelab.memory import Memory


@pytest.fixture
def run(tmp_path: Path) -> tuple[Memory, str]:
    mem = Memory(tmp_path / "m.sqlite")
    return mem, mem.create_run({"budget_probes": 10}, {"probes": 10})


@pytest.mark.parametrize(
    ("kind", "payload", "needle"),
    [
        ("ban", {"op": "text_lenght_filter"}, "did you mean"),
        ("range", {"op": "image_shape_filter", "param": "min_width", "low_q": 0.5, "high_q": 0.1}, "low_q"),
        ("range", {"op": "image_shape_filter", "param": "nope", "low_q": 0.1, "high_q": 0.5}, "param"),
        ("budget", {"delta": "ten"}, "integer"),
        ("note", {"text": "  "}, "empty"),
        ("explode", {}, "unknown directive"),
    ],
)
def test_invalid_directives_are_named(kind: str, payload: dict, needle: str) -> None:
    with pytest.raises(DirectiveError, match=needle):
        validate_directive(kind, payload)


def test_fold_applies_in_order_and_skips_unapplied() -> None:
    dirs = [
        {"id": 1, "status": "applied", "kind": "ban", "payload": {"op": "a"}},
        {"id": 2, "status": "applied", "kind": "pin", "payload": {"op": "a"}},  # pin lifts the ban
        {"id": 3, "status": "rejected", "kind": "ban", "payload": {"op": "b"}},
        {"id": 4, "status": "applied", "kind": "range", "payload": {"op": "c", "param": "p", "low_q": 0, "high_q": 0.5}},  # noqa: E501
        {"id": 5, "status": "applied", "kind": "queue", "payload": {"ops": [{"op": "c"}]}},
        {"id": 6, "status": "applied", "kind": "queue", "payload": {"ops": [{"op": "d"}]}},
    ]
    st = fold(dirs, probed_queue_ids={5})
    assert st.banned == set() and st.pinned == {"a"}
    assert st.ranges == {("c", "p"): (0.0, 0.5)}
    assert st.queued_ids == [6]


def test_applier_changes_budget_rejects_bad_and_stops(run) -> None:  # noqa: ANN001
    mem, rid = run
    mem.add_directive(rid, "budget", {"delta": 5}, source="cli")
    mem.add_directive(rid, "ban", {"op": "no_such_op"}, source="cli")
    app = DirectiveApplier(mem, rid, default_budget=10)
    app.apply_pending()
    assert (mem.get_run(rid) or {})["budget"]["probes"] == 15
    assert [d["status"] for d in mem.directives(rid)] == ["applied", "rejected"]
    mem.add_directive(rid, "budget", {"set": 3}, source="cli")
    mem.add_directive(rid, "stop", {}, source="cli")
    with pytest.raises(StopRun):
        app.apply_pending()
    assert (mem.get_run(rid) or {})["budget"]["probes"] == 3


def test_pause_blocks_until_resume(run) -> None:  # noqa: ANN001
    mem, rid = run
    mem.set_run_status(rid, "running")
    mem.add_directive(rid, "pause", {}, source="cli")
    app = DirectiveApplier(mem, rid, default_budget=10, poll_s=0.05)
    done = threading.Event()
    t = threading.Thread(target=lambda: (app.apply_pending(), done.set()))
    t.start()
    time.sleep(0.4)
    assert not done.is_set() and (mem.get_run(rid) or {})["status"] == "paused"
    Memory(mem.path).add_directive(rid, "resume", {}, source="chat")  # from another connection
    t.join(timeout=5)
    assert done.is_set() and (mem.get_run(rid) or {})["status"] == "running"
