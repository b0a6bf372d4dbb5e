"""EndGame: the final recipe by lower confidence bound, written as YAML; paired test scoring."""

from __future__ import annotations

import yaml

from recipelab.agent import analysis
from recipelab.agent.endgame import EndGame
from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.memory import Memory

# Both remove some of the tiny bench (an op that removes nothing is dropped from the final recipe).
SHAPE = [OpChoice(op="image_shape_filter", params=[ParamValue(name="min_width", value=24)])]
LENGTH = [OpChoice(op="text_length_filter", params=[ParamValue(name="min_len", value=40)])]


def _record(mem: Memory, rid: str, choices: list[OpChoice], purpose: str, values: list[float], space) -> None:  # noqa: ANN001
    recipe = space.to_recipe(choices)
    for k, v in enumerate(values):
        eid = mem.add_experiment(
            rid, f"{purpose}-{k}", recipe=recipe.to_dj(), recipe_fp=recipe.fingerprint(), recipe_yaml=recipe.to_yaml(),
            spec={"choices": [c.model_dump(mode="json") for c in choices], "seed_index": k, "split": "eval"},
            seed=k, train_size=100, kept_size=100, purpose=purpose, step=1,
        )  # fmt: skip
        mem.start_experiment(eid)
        mem.finish_experiment(eid, {"mean_recall": v}, {}, "mean_recall")


def _endgame(loop, test_seeds: int = 0) -> EndGame:  # noqa: ANN001
    return EndGame(
        loop.recorder, loop.run_dir, loop.ws.best_recipe_path(loop.run_id), loop.ws.summary_path(loop.run_id),
        test_seeds=test_seeds, has_test=test_seeds > 0,
    )  # fmt: skip


def test_final_choice_is_the_best_lower_bound_not_the_best_mean(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    mem, rid, space = loop.mem, loop.run_id, loop.space
    _record(mem, rid, [], "baseline", [0.40, 0.44, 0.42], space)
    _record(mem, rid, LENGTH, "screen:lucky", [0.575], space)  # one lucky seed
    _record(mem, rid, SHAPE, "replicate:steady", [0.56, 0.565, 0.56, 0.565], space)
    st = loop.state()
    out = _endgame(loop).finish(st, "test", 1.0)
    assert out.status == "done"
    best = out.summary["best"]
    assert best["purpose"] == "replicate:steady" and best["seeds"] == 4
    assert best["eval_mean"] < 0.575  # not the best mean
    assert best["eval_lcb"] == max(lcb for _, lcb in analysis.ranked(st))
    written = yaml.safe_load(loop.ws.best_recipe_path(rid).read_text())
    assert [next(iter(p)) for p in written["process"]] == ["image_shape_filter"]
    assert (mem.get_run(rid) or {})["status"] == "done"


def test_a_banned_op_is_never_the_final_recipe(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    mem, rid, space = loop.mem, loop.run_id, loop.space
    _record(mem, rid, [], "baseline", [0.40, 0.42], space)
    _record(mem, rid, SHAPE, "screen:shape", [0.60, 0.61], space)
    _record(mem, rid, LENGTH, "screen:length", [0.50, 0.51], space)
    d = mem.add_directive(rid, "ban", {"op": "image_shape_filter"}, source="chat")
    mem.resolve_directive(d, "applied", "ok")
    out = _endgame(loop).finish(loop.state(), "test", 1.0)
    assert out.summary["best"]["purpose"] == "screen:length"


def test_no_finished_probe_fails_the_run(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    out = _endgame(loop).finish(loop.state(), "nothing ran", 1.0)
    assert out.status == "failed" and "best" not in out.summary


def test_test_scoring_pairs_final_and_baseline_on_the_same_seeds(synthetic_loop, synthetic_env) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=2)
    loop.prepare()
    res = _endgame(loop, test_seeds=2).score_on_test(SHAPE, step=5)
    assert res["final"]["seeds"] == res["baseline"]["seeds"] == 2
    rows = [e for e in loop.mem.experiments(loop.run_id) if e["purpose"].startswith("test:")]
    assert sorted({e["seed"] for e in rows if e["purpose"] == "test:final"}) == sorted(
        {e["seed"] for e in rows if e["purpose"] == "test:baseline"}
    )
    assert all((e["spec"] or {}).get("split") == "test" for e in rows)
    assert res["gain"] == res["final"]["mean"] - res["baseline"]["mean"]
    assert loop.state().used == 0  # test scoring spends nothing of the search budget


def test_ops_that_removed_nothing_are_dropped_from_the_final_recipe(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    mem, rid, space = loop.mem, loop.run_id, loop.space
    noop = OpChoice(op="text_length_filter", params=[ParamValue(name="min_len", value=0)])
    _record(mem, rid, [], "baseline", [0.40, 0.42], space)
    _record(mem, rid, [*SHAPE, noop], "screen:shape+noop", [0.60, 0.61], space)
    out = _endgame(loop).finish(loop.state(), "test", 1.0)
    best = out.summary["best"]
    assert best["dropped_noops"] == ["text_length_filter"]
    assert "text_length_filter" in best["probed_description"] and "text_length_filter" not in best["description"]
    assert best["kept"] == space.apply(space.to_recipe(SHAPE)).n_kept < space.n  # same samples, fewer ops
    for path in (loop.ws.best_recipe_path(rid), loop.ws.full_recipe_path(rid)):
        assert [next(iter(p)) for p in yaml.safe_load(path.read_text())["process"]] == ["image_shape_filter"]
    assert any("dropped 1 op(s) that removed nothing" in e["message"] for e in mem.events(rid))
