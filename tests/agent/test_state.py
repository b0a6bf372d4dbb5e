"""The one state loader: what the loop, chat and report all see of a run."""

from __future__ import annotations

from pathlib import Path

from recipelab.agent.state import load_state, scoring_purpose
from recipelab.memory import Memory


def _exp(mem: Memory, rid: str, fp: str, purpose: str, split: str, value: float, step: int = 1) -> int:
    eid = mem.add_experiment(
        rid, fp, recipe={"process": []}, recipe_fp="r0", recipe_yaml="process: []\n",
        spec={"choices": [], "seed_index": 0, "split": split}, seed=0, train_size=10, kept_size=10,
        purpose=purpose, step=step,
    )  # fmt: skip
    mem.start_experiment(eid)
    mem.finish_experiment(eid, {"mean_recall": value}, {}, "mean_recall")
    return eid


def test_test_split_rows_never_enter_the_search_state(tmp_path: Path) -> None:
    mem = Memory(tmp_path / "m.sqlite")
    rid = mem.create_run({"budget_probes": 5}, {"probes": 5})
    _exp(mem, rid, "a", "baseline", "eval", 0.2)
    _exp(mem, rid, "b", "screen:x", "eval", 0.3, step=2)
    _exp(mem, rid, "c", scoring_purpose("final"), "test", 0.9, step=3)
    _exp(mem, rid, "d", "baseline", "test", 0.8, step=3)  # test split under a search purpose: still left out
    st = load_state(mem, rid)
    assert [t.purpose for t in st.trials] == ["baseline", "screen:x"]
    assert st.used == 2 and st.remaining == 3
    assert st.step == 2
    assert all(t.metric is not None and t.metric < 0.5 for t in st.trials)


def test_budget_and_steering_come_from_the_memory(tmp_path: Path) -> None:
    mem = Memory(tmp_path / "m.sqlite")
    rid = mem.create_run({"budget_probes": 5}, {"probes": 5})
    mem.update_run(rid, budget={"probes": 9})  # as a budget directive leaves it
    d1 = mem.add_directive(rid, "ban", {"op": "text_length_filter"}, source="chat")
    mem.resolve_directive(d1, "applied", "ok")
    d2 = mem.add_directive(rid, "queue", {"ops": [{"op": "image_shape_filter"}]}, source="chat")
    mem.resolve_directive(d2, "applied", "ok")
    d3 = mem.add_directive(rid, "ban", {"op": "image_entropy_filter"}, source="chat")  # pending: not folded
    st = load_state(mem, rid)
    assert st.budget_probes == 9
    assert st.steering.banned == {"text_length_filter"}
    assert st.steering.queued_ids == [d2]
    # once the queued recipe has a probe (purpose user:<id>), it is no longer queued
    _exp(mem, rid, "q", f"user:{d2}", "eval", 0.1)
    assert load_state(mem, rid).steering.queued == []
    assert d3 not in load_state(mem, rid).steering.queued_ids


def test_budget_defaults_to_the_run_config(tmp_path: Path) -> None:
    mem = Memory(tmp_path / "m.sqlite")
    rid = mem.create_run({"budget_probes": 7}, {})
    assert load_state(mem, rid).budget_probes == 7


def test_cost_counts_the_schedule_the_trainer_ran() -> None:
    """A task with its own default steps (t2i: 500) records the spec's unset 200 but reports the steps it ran:
    a whole probe costs 1, not 2.5 (a t2i search ran out of budget after 3 probes before this)."""
    from recipelab.agent.state import fidelity_of

    whole = {"spec": {"probe": {"steps": 200}}, "result": {"steps": 500, "start_step": 0, "end_step": 500}}
    assert fidelity_of(whole) == (1.0, 1.0, 500)
    segment = {"spec": {"probe": {"steps": 200, "stop_step": 50}}, "result": {"steps": 200, "end_step": 50}}
    assert fidelity_of(segment) == (0.25, 0.25, 50)
    queued = {"spec": {"probe": {"steps": 200, "stop_step": 100}, "resume_step": 50}}
    assert fidelity_of(queued) == (0.5, 0.25, 100)
