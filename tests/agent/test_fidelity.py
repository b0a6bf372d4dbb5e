"""Multi-fidelity probes: the ladder's arithmetic, successive halving of screens (promotions resume from
checkpoints, stopped screens stay apart from full probes), Optuna's pruner on the threshold search, and
the budget counted in full-probe equivalents: the same answer as the single-fidelity agent for half the
training steps (synthetic env whose score grows along the schedule)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from recipelab.agent.fidelity import Ladder
from recipelab.trainers.base import ProbeResult, ProbeSpec
from tests.agent.test_statistical_planner import OPS, ScoredEnv, pool_space, tail_mask, utilities
from tests.conftest import make_synthetic_loop

HELPER = ("image_entropy_filter", "min_entropy")


class FidelityEnv(ScoredEnv):
    """A ScoredEnv whose probe follows its schedule: the score at step s is the full score times
    (0.3 + 0.7 s / steps); a segment stops at ``stop_step`` (writing its checkpoint) and a resumed one
    starts at its checkpoint's step. Counts the training steps it ran."""

    def __init__(self, bench: Path, utility: dict[str, float]) -> None:
        super().__init__(bench, utility, noise=0.005)
        self.trained = 0
        self.resumed = 0

    def run(self, spec: ProbeSpec, split: str = "eval") -> ProbeResult:
        res = super().run(spec, split)
        full = res.metrics["mean_recall"]
        start = 0
        if spec.resume_from:
            start = int(Path(spec.resume_from).read_text())
            self.resumed += 1
        end = spec.end_step
        if spec.save_checkpoint:
            Path(spec.save_checkpoint).parent.mkdir(parents=True, exist_ok=True)
            Path(spec.save_checkpoint).write_text(str(end))
        self.trained += end - start

        def at(s: int) -> float:
            return full * (0.3 + 0.7 * s / spec.steps)

        curve = [{"step": s, "metrics": {"mean_recall": at(s)}} for s in spec.eval_steps if start < s < end]
        return res.model_copy(
            update={
                "metrics": {"mean_recall": at(end)},
                "curve": curve,
                "start_step": start,
                "end_step": end,
                "steps": spec.steps,
            }
        )


def test_ladder_rungs_and_cost() -> None:
    lad = Ladder.of(200)
    assert lad.rungs == (50, 100, 200) and lad.eval_steps() == [50, 100]
    assert lad.cohort_cost(4) == pytest.approx(2.0)  # 4 x 1/4 + 2 x 1/4 + 1 x 1/2
    assert lad.cohort_cost(1) == pytest.approx(1.0)
    assert 0.5 <= lad.unit_cost() <= 0.65
    assert Ladder.of(200, [0.5, 1.0], eta=3).rungs == (100, 200)


def _env(ws_dir: Path, bench: Path) -> FidelityEnv:
    space = pool_space(ws_dir, bench)
    bad = tail_mask(space, *HELPER, 0.15)
    return FidelityEnv(bench, utilities(space, bad, bad & ~bad))


def test_multi_fidelity_search_matches_single_fidelity_with_half_the_steps(tmp_path: Path, tiny_bench: Path) -> None:
    B = 24
    single_env = _env(tmp_path / "a" / "ws", tiny_bench)
    single = make_synthetic_loop(tmp_path / "a", tiny_bench, single_env, ops=OPS, budget_probes=B, test_seeds=0)
    single.run()
    multi_env = _env(tmp_path / "b" / "ws", tiny_bench)
    multi = make_synthetic_loop(
        tmp_path / "b", tiny_bench, multi_env, ops=OPS, budget_probes=B // 2, test_seeds=0, multi_fidelity=True
    )
    assert multi.ladder is not None and multi.ladder.rungs == (50, 100, 200)
    multi.run()

    state = multi.state()
    assert state.segments, "no low-fidelity segment"
    assert state.compute_used <= B // 2 + 1e-9
    assert all(t.fidelity == 1.0 for t in state.trials)  # analyses see full-length probes only
    # full probes record their curve at the lower rungs (what stopped screens are compared with)
    base = [t for t in state.trials if t.purpose == "baseline"]
    assert base and all(set(t.curve) == {50, 100} for t in base)
    # promotions resumed from a checkpoint: a promoted screen costs only the steps it added
    assert multi_env.resumed > 0
    resumed = [t for t in state.trials + state.segments if t.cost < t.fidelity - 1e-9]
    assert resumed
    # successive halving says what it promoted and stopped, with values
    rungs = [e for e in multi.mem.events(multi.run_id) if (e.get("payload") or {}).get("fidelity")]
    assert any("promoted to 100" in e["message"] and "stopped" in e["message"] for e in rungs), [
        e["message"] for e in rungs
    ]
    # the threshold search reported intermediate values to Optuna (its pruner saw every rung)
    studies = optuna.get_all_study_names(multi.ws.optuna_storage)
    trials = [t for n in studies for t in optuna.load_study(study_name=n, storage=multi.ws.optuna_storage).trials]
    assert any(t.intermediate_values for t in trials)

    # the report shows the ladder, its decisions and the curves
    from recipelab.report.html import render_report

    html = render_report(multi.ws, multi.mem, multi.run_id)
    section = html.split('id="fidelity"')[1].split("</section>")[0]
    assert "50 -&gt; 100 -&gt; 200" in section and "could not be rendered" not in section
    assert "<img" in section and "screen:" in section
    assert "single-fidelity run" in render_report(single.ws, single.mem, single.run_id)

    # same answer for half the training steps
    assert multi_env.trained <= 0.5 * single_env.trained + 1e-9, (multi_env.trained, single_env.trained)
    best_single = single.mem.get_run(single.run_id)["summary"]["best"]
    best_multi = multi.mem.get_run(multi.run_id)["summary"]["best"]
    assert best_multi["eval_mean"] >= best_single["eval_mean"] - 0.02, (best_multi, best_single)
    ent = [c for c in best_multi["choices"] if c["op"] == HELPER[0]]
    assert ent, best_multi["choices"]


def test_single_fidelity_is_unchanged_by_default(tmp_path: Path, tiny_bench: Path) -> None:
    env = _env(tmp_path / "ws", tiny_bench)
    loop = make_synthetic_loop(tmp_path, tiny_bench, env, ops=OPS, budget_probes=6, test_seeds=0)
    assert loop.ladder is None
    loop.run()
    st = loop.state()
    assert not st.segments and st.compute_used == len(st.trials) == 6 and st.used == 6
    assert env.resumed == 0 and env.trained == 6 * 200
