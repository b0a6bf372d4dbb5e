"""ProbeRecorder: the one path every probe takes (fingerprints, reuse, undersized recipes)."""

from __future__ import annotations

from recipelab.agent.plan import OpChoice, ParamValue


def _prepared(synthetic_loop, **cfg):  # noqa: ANN001, ANN202
    loop = synthetic_loop(budget_probes=10, test_seeds=0, **cfg)
    loop.prepare()
    assert loop.recorder is not None
    return loop, loop.recorder


def test_a_done_probe_is_never_run_twice_in_a_run(synthetic_loop, synthetic_env) -> None:  # noqa: ANN001
    loop, rec = _prepared(synthetic_loop)
    ids = rec.submit([([], 0, "baseline"), ([], 0, "baseline-again"), ([], 1, "baseline")], step=1)
    assert ids[0] == ids[1] != ids[2]  # same recipe and seed in one batch: one probe
    assert synthetic_env.calls == 2
    again = rec.submit([([], 0, "baseline")], step=2)
    assert again == [ids[0]] and synthetic_env.calls == 2
    assert rec.value(ids[0]) is not None


def test_a_probe_done_in_another_run_is_a_cache_hit(tmp_path, tiny_bench, synthetic_env) -> None:  # noqa: ANN001
    from tests.conftest import make_synthetic_loop

    first = make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, budget_probes=4, test_seeds=0)
    first.prepare()
    (eid,) = first.recorder.submit([([], 0, "baseline")], step=1)
    second = make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, budget_probes=4, test_seeds=0)
    second.prepare()
    calls = synthetic_env.calls
    (reused,) = second.recorder.submit([([], 0, "baseline")], step=1)
    assert synthetic_env.calls == calls and reused != eid
    row = second.mem.get_experiment(reused)
    assert row["cached_from"] == eid and row["primary_value"] == first.mem.get_experiment(eid)["primary_value"]


def test_seed_and_model_defaults_are_part_of_the_fingerprint(synthetic_loop) -> None:  # noqa: ANN001
    loop, rec = _prepared(synthetic_loop, seed=3)
    assert rec.seed_of(2) == 3002
    cfg = {"task": "clip", "steps": 10}
    fp = rec.fingerprint("r", cfg, 1, "eval")
    assert fp != rec.fingerprint("r", cfg, 2, "eval") != rec.fingerprint("r", cfg, 1, "test")
    rec._model_cfg = {**rec._model_cfg, "projection_dim": 999}  # another built-in model size
    assert rec.fingerprint("r", cfg, 1, "eval") != fp


def test_a_recipe_keeping_too_few_samples_fails_without_training(synthetic_loop, synthetic_env) -> None:  # noqa: ANN001
    loop, rec = _prepared(synthetic_loop)
    nothing = [OpChoice(op="text_length_filter", params=[ParamValue(name="min_len", value=10**9)])]
    (eid,) = rec.submit([(nothing, 0, "screen:nothing")], step=1)
    row = loop.mem.get_experiment(eid)
    assert row["status"] == "failed" and "fewer than the probe's minimum" in row["error"]
    assert synthetic_env.calls == 0


def test_an_invalid_proposal_is_logged_not_run(synthetic_loop) -> None:  # noqa: ANN001
    loop, rec = _prepared(synthetic_loop)
    bad = [OpChoice(op="text_length_filter", params=[ParamValue(name="no_such_param", value=1)])]
    assert rec.submit([(bad, 0, "screen:bad")], step=1) == [None]
    assert any("invalid proposal" in e["message"] for e in loop.mem.events(loop.run_id, kinds="error"))
