"""Planner logic over many cheap probes (synthetic objective: clean share of the training draw)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipelab.agent.loop import SearchLoop
from recipelab.executors import InProcessExecutor
from tests.conftest import SYNTHETIC_OPS, make_synthetic_loop

# No proxy CLIP here (it trains a model): priors come from robust-outlier shares.
OPS = SYNTHETIC_OPS


def run_search(tmp_path: Path, tiny_bench: Path, env, **kw) -> tuple[SearchLoop, object]:  # noqa: ANN001
    loop = make_synthetic_loop(tmp_path, tiny_bench, env, ops=OPS, **kw)
    return loop, loop.run()


def test_stat_planner_beats_no_filter_and_respects_budget(tmp_path: Path, tiny_bench: Path, synthetic_env) -> None:  # noqa: ANN001
    loop, outcome = run_search(tmp_path, tiny_bench, synthetic_env, budget_probes=20, test_seeds=1)
    s = outcome.summary
    assert outcome.status == "done"
    assert s["probes"] == 20
    trials = loop.state().trials
    purposes = [t.purpose for t in trials]
    assert purposes[:2] == ["baseline", "baseline"]
    assert any(p.startswith("screen:") for p in purposes)
    assert any(p.startswith("search:") for p in purposes) or "combine" in purposes
    assert any(p.startswith("replicate:") for p in purposes)
    # the final recipe keeps a cleaner pool than no filter (by the truth the planner never saw)
    assert s["best"]["eval_mean"] > s["baseline"]["eval_mean"] + 0.05
    assert s["test"]["gain"] > 0.03
    assert Path(s["best_recipe"]).exists()
    kinds = {e["kind"] for e in loop.mem.events(loop.run_id)}
    assert {"plan", "probe", "decision"} <= kinds
    # every plan event carries its rationale
    assert all(e["message"] for e in loop.mem.events(loop.run_id, kinds="plan"))


@pytest.mark.parametrize("strategy", ["random", "optuna", "dj-sandbox", "k-sigma"])
def test_baseline_strategies_finish_within_budget(
    tmp_path: Path, tiny_bench: Path, synthetic_env, strategy: str
) -> None:  # noqa: ANN001
    loop, outcome = run_search(tmp_path, tiny_bench, synthetic_env, budget_probes=12, strategy=strategy, test_seeds=0)
    assert outcome.status == "done"
    assert outcome.summary["probes"] <= 12
    assert outcome.summary["best"]["eval_mean"] is not None


def test_resume_plans_identically_and_never_reruns(tmp_path: Path, tiny_bench: Path, synthetic_env) -> None:  # noqa: ANN001
    """Stop after some probes (budget), raise the budget, resume: finished probes are not re-run."""
    loop, first = run_search(tmp_path, tiny_bench, synthetic_env, budget_probes=6, test_seeds=0)
    calls = synthetic_env.calls
    mem = loop.mem
    mem.update_run(loop.run_id, budget={"probes": 14})
    again = SearchLoop.resume(
        loop.ws, mem, loop.run_id, env=synthetic_env, executor=InProcessExecutor(synthetic_env), quiet=True
    )
    out = again.run()
    assert out.summary["probes"] == 14
    assert synthetic_env.calls - calls == 8  # only the new probes ran
    fps = [e["fingerprint"] for e in mem.experiments(loop.run_id)]
    assert len(fps) == len(set(fps))


def test_directives_ban_and_budget_change_decisions(tmp_path: Path, tiny_bench: Path, synthetic_env) -> None:  # noqa: ANN001
    loop = make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, ops=OPS, budget_probes=10, test_seeds=0)
    mem = loop.mem
    mem.add_directive(loop.run_id, "ban", {"op": "text_length_filter"}, source="cli")
    mem.add_directive(loop.run_id, "budget", {"delta": 2}, source="cli")
    mem.add_directive(loop.run_id, "ban", {"op": "no_such_filter"}, source="cli")
    out = loop.run()
    assert out.summary["probes"] == 12
    used = {c for t in loop.state().trials for c in t.op_names}
    assert "text_length_filter" not in used
    dirs = mem.directives(loop.run_id)
    assert [d["status"] for d in dirs] == ["applied", "applied", "rejected"]
    assert "did you mean" in dirs[2]["result"] or "unknown operator" in dirs[2]["result"]
