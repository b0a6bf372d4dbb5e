"""The surrogate: pool-relative features, a GP that ranks unseen recipes, its picks inside the agent's
threshold search (never inside a baseline's), and the rank correlation the run reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState, Trial
from recipelab.agent.surrogate import MIN_POINTS, Surrogate, features, prediction_quality, spearman
from recipelab.data.reader import read_dataset
from recipelab.workspace import Workspace
from tests.agent.test_statistical_planner import ScoredEnv, pool_space, tail_mask, utilities
from tests.conftest import make_synthetic_loop

OPS = ["text_length_filter", "image_entropy_filter", "image_sharpness_filter", "document_deduplicator"]


@pytest.fixture(scope="module")
def space(tiny_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> PoolSpace:
    ws = Workspace.open(tmp_path_factory.mktemp("ws"))
    return PoolSpace(read_dataset(tiny_bench / "pool.jsonl", quiet=True), ws.stats_cache(), ops=OPS, quiet=True)


def ent(q: float, length_q: float | None = None) -> list[OpChoice]:
    out = [OpChoice(op="image_entropy_filter", quantiles=[ParamValue(name="min_entropy", value=q)])]
    if length_q is not None:
        out.append(OpChoice(op="text_length_filter", quantiles=[ParamValue(name="max_len", value=length_q)]))
    return out


def test_features_are_pool_shares(space: PoolSpace) -> None:
    f = features(space, ent(0.2))
    assert f.shape == (len(space.entries) + 1,)
    names = list(space.entries)
    assert f[names.index("image_entropy_filter")] == pytest.approx(0.2, abs=0.03)
    assert f[names.index("text_length_filter")] == 0.0
    assert f[-1] == pytest.approx(0.8, abs=0.03)
    assert features(space, [])[-1] == 1.0


def test_gp_ranks_unseen_recipes(space: PoolSpace) -> None:
    """Metric rises with the entropy cut and falls with the length cut; fit on 10 recipes, rank 8 others."""
    rng = np.random.default_rng(0)

    def metric(q: float, lq: float) -> float:
        return 0.3 + 0.4 * q - 0.5 * (1 - lq) + float(rng.normal(0, 0.005))

    train = [(float(q), float(lq)) for q, lq in rng.uniform([0, 0.7], [0.5, 1.0], size=(10, 2))]
    trials = [Trial(i, f"fp{i}", ent(q, lq), "screen:x", 0, metric(q, lq), "done") for i, (q, lq) in enumerate(train)]
    sur = Surrogate(space, seed=0)
    assert not sur.fit(SearchState("r", 30, trials[: MIN_POINTS - 1]))
    assert sur.fit(SearchState("r", 30, trials))
    test = [(float(q), float(lq)) for q, lq in rng.uniform([0, 0.7], [0.5, 1.0], size=(8, 2))]
    pred = [p.mean for p in sur.predict([ent(q, lq) for q, lq in test])]
    truth = [0.3 + 0.4 * q - 0.5 * (1 - lq) for q, lq in test]
    assert spearman(pred, truth) > 0.8


def test_spearman_edge_cases() -> None:
    assert np.isnan(spearman([1, 2], [1, 2]))
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def _lone_winner_env(ws_dir: Path, bench: Path) -> ScoredEnv:
    sp = pool_space(ws_dir, bench)
    bad = tail_mask(sp, "image_entropy_filter", "min_entropy", 0.2)
    return ScoredEnv(bench, utilities(sp, bad, bad & ~bad))


def test_agent_search_uses_the_surrogate_and_reports_its_rank_correlation(tmp_path: Path, tiny_bench: Path) -> None:
    env = _lone_winner_env(tmp_path / "ws", tiny_bench)
    loop = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=24, test_seeds=0, warm_start="off")
    loop.run()
    q = prediction_quality(loop.mem, loop.run_id)
    assert q["n"] >= 2 and q["n_picks"] >= 1, q
    assert {p["picked_by"] for p in q["pairs"]} >= {"surrogate"}
    summary = loop.mem.get_run(loop.run_id)["summary"]
    assert summary["surrogate"]["n"] == q["n"]
    logs = [e["message"] for e in loop.mem.events(loop.run_id)]
    assert any(m.startswith("surrogate: Spearman") for m in logs)
    assert any("(surrogate's pick) predicted" in m for m in logs)


def test_baseline_optuna_strategy_never_uses_the_surrogate(tmp_path: Path, tiny_bench: Path) -> None:
    env = _lone_winner_env(tmp_path / "ws", tiny_bench)
    loop = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=10, test_seeds=0, strategy="optuna")
    loop.run()
    assert prediction_quality(loop.mem, loop.run_id)["n"] == 0
    assert "surrogate" not in loop.mem.get_run(loop.run_id)["summary"]
