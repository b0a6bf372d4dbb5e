"""Warm start: a second search on the same pool (or a look-alike) starts from the first one's findings,
re-measures them before use, says so in its log, and reaches the first search's quality in a quarter of
its probes; ``off`` and a bad run id behave as documented; a resumed run keeps its source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recipelab.agent.analysis import best_so_far
from recipelab.agent.state import SearchState
from recipelab.agent.warm_start import (
    WarmStartError,
    find_source,
    look_alike_limit,
    signature_distance,
    stats_signature,
)
from recipelab.data.benchmark import make_benchmark
from tests.agent.test_statistical_planner import ScoredEnv, pool_space, tail_mask, utilities
from tests.conftest import SYNTHETIC_OPS, make_synthetic_loop

HELPER = ("image_entropy_filter", "min_entropy")


def scored_env(ws_dir: Path, bench: Path) -> ScoredEnv:
    """Bad samples sit in image entropy's low tail (15%); nothing else matters."""
    space = pool_space(ws_dir, bench)
    bad = tail_mask(space, *HELPER, 0.15)
    return ScoredEnv(bench, utilities(space, bad, bad & ~bad))


def first_eval_reaching(state: SearchState, target: float) -> int | None:
    """Probes used when the best-so-far candidate (by lower bound) first reaches ``target`` in mean."""
    trials = sorted(state.trials, key=lambda t: t.id)
    for k in range(1, len(trials) + 1):
        sub = SearchState(state.run_id, state.budget_probes, trials[:k])
        b = best_so_far(sub)
        if b is not None and b[0].mean >= target:
            return k
    return None


def test_second_search_starts_from_the_first_and_reaches_its_quality_in_a_quarter(
    tmp_path: Path, tiny_bench: Path
) -> None:
    ws_dir = tmp_path / "ws"
    env = scored_env(ws_dir, tiny_bench)
    B = 16
    first = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=B, test_seeds=0)
    first.run()
    cold = first.mem.get_run(first.run_id)["summary"]["best"]["eval_mean"]
    assert first.warm is None

    second = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=B, test_seeds=0, seed=1)
    second.run()
    assert second.warm is not None and second.warm.source_run == first.run_id and second.warm.same_pool
    logs = [e["message"] for e in second.mem.events(second.run_id)]
    assert any(m.startswith(f"warm start from run {first.run_id} (the same pool)") for m in logs), logs[:5]
    state = second.state()
    # the first recipes after the baseline are the first run's best ones, re-measured here
    order = [t.purpose for t in sorted(state.trials, key=lambda t: t.id)]
    assert order[:2] == ["baseline", "baseline"] and order[2] == "warm:0", order
    warm0 = next(t for t in state.trials if t.purpose == "warm:0")
    best_first = first.mem.get_run(first.run_id)["summary"]["best"]
    assert warm0.recipe_fp == best_first["recipe_fp"]
    # the source is kept in the run's config (a resume warm-starts from the same run)
    cfg = second.mem.get_run(second.run_id)["config"]
    assert cfg["warm_start_sources"][0]["run"] == first.run_id
    # quality: the first run's final eval (within its noise) after a quarter of the probes
    k = first_eval_reaching(state, cold - 0.02)
    assert k is not None and k <= B // 4, k


def test_warm_start_off_and_explicit_and_bad_ids(tmp_path: Path, tiny_bench: Path) -> None:
    ws_dir = tmp_path / "ws"
    env = scored_env(ws_dir, tiny_bench)
    first = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=6, test_seeds=0)
    first.run()
    off = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=6, test_seeds=0, warm_start="off")
    off.run()
    assert off.warm is None and not off.state().with_purpose("warm:")
    explicit = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=6, test_seeds=0, warm_start=first.run_id)
    explicit.run()
    assert explicit.warm is not None and explicit.warm.source_run == first.run_id
    assert explicit.state().with_purpose("warm:")
    with pytest.raises(WarmStartError, match="no earlier run"):
        find_source(first.mem, "r-x", "r-nope", "clip", "fp", {})
    with pytest.raises(ValueError, match="warm_start"):
        make_synthetic_loop(tmp_path, tiny_bench, env, warm_start="no such/id!")


def test_effects_order_the_screens_and_a_hurt_screen_goes_last(tmp_path: Path, tiny_bench: Path) -> None:
    """The first run's screen effects reorder the second run's first wave: the op that helped first."""
    ws_dir = tmp_path / "ws"
    env = scored_env(ws_dir, tiny_bench)
    first = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=16, test_seeds=0)
    first.run()
    second = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=16, test_seeds=0, seed=1)
    second.prepare()
    assert second.warm is not None
    eff = second.warm.effects
    assert eff, "the first run's screens have effects"
    state = second.state()
    v = second.planner.view(state, second.space)  # type: ignore[union-attr]
    labels = [u.label for u in v.evidence]
    known = [lab for lab in labels if lab in eff]
    pos = [lab for lab in known if eff[lab] > 0]
    neg = [lab for lab in known if eff[lab] <= 0]
    if pos:
        assert labels[0] == max(pos, key=lambda lab: eff[lab])
    if neg:
        assert all(labels.index(n) > labels.index(u) for n in neg for u in labels if u not in eff)


def test_look_alike_pools_are_close_and_a_shifted_pool_is_not(tmp_path: Path, tiny_bench: Path) -> None:
    """Another draw of the same generator looks alike; the same pool with its longest captions cut away
    (one stat's distribution moved) does not."""
    same_mix = tmp_path / "again"
    make_benchmark(same_mix, size=600, n_eval=20, n_test=20, seed=11)
    rows = [json.loads(line) for line in (tiny_bench / "pool.jsonl").read_text().splitlines()]
    cut = np.quantile([len(r["text"]) for r in rows], 0.6)
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    (shifted / "images").symlink_to(tiny_bench / "images")
    (shifted / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if len(r["text"]) <= cut))
    sig = stats_signature(pool_space(tmp_path / "ws", tiny_bench))
    sig_same = stats_signature(pool_space(tmp_path / "ws", same_mix))
    sig_shift = stats_signature(pool_space(tmp_path / "ws", shifted))
    assert signature_distance(sig, sig) == 0.0
    d_same, d_shift = signature_distance(sig, sig_same), signature_distance(sig, sig_shift)
    assert d_same < look_alike_limit(sig, sig_same), d_same
    assert d_shift > look_alike_limit(sig, sig_shift) + 0.1, d_shift
    assert signature_distance(sig, {}) == float("inf")


def test_auto_takes_a_look_alike_pool_and_says_so(tmp_path: Path, tiny_bench: Path) -> None:
    ws_dir = tmp_path / "ws"
    env = scored_env(ws_dir, tiny_bench)
    first = make_synthetic_loop(tmp_path, tiny_bench, env, budget_probes=6, test_seeds=0)
    first.run()
    again = tmp_path / "again"
    make_benchmark(again, size=600, n_eval=80, n_test=80, seed=11)
    env2 = scored_env(ws_dir, again)
    second = make_synthetic_loop(tmp_path, again, env2, budget_probes=6, test_seeds=0, ops=SYNTHETIC_OPS)
    second.run()
    assert second.warm is not None and not second.warm.same_pool
    assert 0 < second.warm.distance < 0.2
    assert any("a pool with the same op stats" in e["message"] for e in second.mem.events(second.run_id))
