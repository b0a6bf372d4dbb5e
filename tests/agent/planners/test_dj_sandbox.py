"""dj-sandbox baseline: the Data-Juicer Sandbox protocol (equal-size rank thirds per stat, then all
combinations of the top pools), on the tiny benchmark's real stats, several of them heavily tied."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.agent.planners import DJSandboxPlanner, replication_reserve
from recipelab.agent.planners.dj_sandbox import LABELS, Coverage, StatUnit, budget_for, protocol_cost
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import PoolSpace

TIED = "word_repetition_filter"  # ~99% of the tiny pool has word_rep_ratio 0


def rank_values(space: PoolSpace, unit: StatUnit) -> np.ndarray:
    """What the sandbox sorts by: the per-sample mean (per-image stats), 0 where a sample has none."""
    return np.nan_to_num(space.entries[unit.op].stats[unit.stat_key].per_sample("mean"), nan=0.0)


def measure_singles(space: PoolSpace, states, planner: DJSandboxPlanner, budget: int):  # noqa: ANN001, ANN201
    """Baseline 0.50/0.51, then every reached stat's pools; the best pool of the i-th reached stat gains
    0.01 * (i + 1), so the ranking is the reverse of the planner's order (ranked by gain, not by order)."""
    b = states(space).baseline(0.5)
    cov = planner.coverage(space, b.state(budget))
    reached = planner.units(space, b.state(budget))[: cov.stats_reached]
    for i, u in enumerate(reached):
        for pool in planner.pools(space, u):
            gain = 0.01 * (i + 1) if pool.part == i % 3 else -0.02
            b.add([pool.choice], pool.purpose, 0.5 + gain)
    return b, reached


def test_first_plan_is_the_baseline_as_the_random_pool(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    plan = DJSandboxPlanner(train_size=200).propose(states(pool_space).state(24), pool_space)
    (p,) = plan.proposals
    assert (p.purpose, p.ops, p.seeds) == ("baseline", [], 2)
    assert "random pool" in plan.rationale
    small = DJSandboxPlanner(train_size=400).propose(states(pool_space).state(24), pool_space)
    assert "undersized" in small.rationale  # thirds of 200 against a random pool of 400: says so


def test_pools_are_equal_thirds_by_rank(pool_space: PoolSpace) -> None:
    planner = DJSandboxPlanner(seed=0)
    units = planner.all_units(pool_space)
    assert len(units) == 9  # 8 filters, image_shape_filter with two stats (width, height)
    n = pool_space.n
    for u in units:
        pools = planner.pools(pool_space, u)
        assert [p.part for p in pools] == [0, 1, 2]
        masks = np.array([p.mask for p in pools])
        assert (masks.sum(axis=0) == 1).all(), f"{u.label}: the thirds partition the pool"
        assert [int(m.sum()) for m in masks] == [
            int(n / 3 + 0.5),
            int(2 * n / 3 + 0.5) - int(n / 3 + 0.5),
            n - int(2 * n / 3 + 0.5),
        ]
        v = rank_values(pool_space, u)
        assert v[masks[0]].max() <= v[masks[1]].min() and v[masks[1]].max() <= v[masks[2]].min(), u.label


def test_tied_stats_still_give_equal_thirds_by_a_seeded_shuffle(pool_space: PoolSpace) -> None:
    (u,) = [u for u in DJSandboxPlanner().all_units(pool_space) if u.op == TIED]
    v = rank_values(pool_space, u)
    assert np.mean(v == 0) > 0.95, "the fixture's stat is tied"
    # a threshold "low third" (max_ratio at the lowest third's top value) keeps nearly everything
    thr = OpChoice(op=TIED, params=[ParamValue(name="max_ratio", value=0.0)])
    assert pool_space.apply(pool_space.to_recipe([thr])).n_kept > 0.95 * pool_space.n
    a, b = DJSandboxPlanner(seed=1), DJSandboxPlanner(seed=2)
    low1 = a.pools(pool_space, u)[0].mask
    assert [p.size for p in a.pools(pool_space, u)] == [200, 200, 200]
    assert np.array_equal(low1, DJSandboxPlanner(seed=1).pools(pool_space, u)[0].mask)
    assert not np.array_equal(low1, b.pools(pool_space, u)[0].mask)  # ties broken by the seed


def test_proposed_pools_keep_exactly_their_third(band_space: PoolSpace, states) -> None:  # noqa: ANN001
    """Through a space that honours rank bands, each proposal keeps exactly its equal-size third."""
    planner = DJSandboxPlanner(seed=0)
    budget = budget_for(protocol_cost(9))
    plan = planner.propose(states(band_space).baseline().state(budget), band_space)
    assert len(plan.proposals) == 27
    pools = {p.purpose: p for u in planner.all_units(band_space) for p in planner.pools(band_space, u)}
    assert {p.purpose for p in plan.proposals} == set(pools)
    fps = set()
    for prop in plan.proposals:
        kept = band_space.apply(band_space.to_recipe(prop.ops)).kept
        assert int(kept.sum()) == 200, prop.purpose
        assert np.array_equal(kept, pools[prop.purpose].mask), prop.purpose
        fps.add(band_space.to_recipe(prop.ops).fingerprint())
    assert len(fps) == 27  # every pool its own recipe
    with_band = {p.purpose.split(":")[1] for p in plan.proposals if p.ops[0].band is not None}
    plain = {p.purpose.split(":")[1] for p in plan.proposals if p.ops[0].band is None}
    assert TIED in with_band  # ties at the cuts: a rank band
    assert "image_entropy_filter" in plain  # no ties: plain thresholds, a Data-Juicer recipe as it is


def test_the_shipped_space_says_when_pools_are_approximate(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    planner = DJSandboxPlanner(seed=0)
    plan = planner.propose(states(pool_space).baseline().state(24), pool_space)
    cov = planner.coverage(pool_space, states(pool_space).state(24))
    assert planner.honours_bands(pool_space, planner.all_units(pool_space)[0])
    assert cov.approximate_pools == 0 and "approximated by thresholds" not in plan.rationale


def test_op_order_is_seeded_random_not_alphabetical(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    labels = {s: [u.label for u in DJSandboxPlanner(seed=s).all_units(pool_space)] for s in range(6)}
    assert labels[3] == [u.label for u in DJSandboxPlanner(seed=3).all_units(pool_space)]
    assert any(ls != sorted(ls) for ls in labels.values())
    reached = set()
    for s in range(6):
        planner = DJSandboxPlanner(seed=s)
        plan = planner.propose(states(pool_space).baseline().state(24), pool_space)
        reached.add(frozenset(p.purpose.rsplit(":", 1)[0] for p in plan.proposals))
    assert len(reached) >= 3  # a short budget reaches different stats under different seeds


def test_budget_reaches_some_stats_and_says_what_the_full_protocol_needs(band_space: PoolSpace, states) -> None:  # noqa: ANN001
    planner = DJSandboxPlanner(seed=0)
    state = states(band_space).baseline().state(24)
    cov = planner.coverage(band_space, state)
    # 24 - 5 reserve = 19 >= 2 baseline + 3 x 4 stats + 4 combinations of the top 3
    assert (cov.stats_total, cov.stats_reached, cov.ops_total, cov.budget) == (9, 4, 8, 24)
    assert cov.full_budget == 41 and not cov.complete
    assert 41 - replication_reserve(41) == protocol_cost(9) == 2 + 27 + 4
    units = planner.units(band_space, state)[:4]
    plan = planner.propose(state, band_space)
    assert [p.purpose for p in plan.proposals] == [f"pool:{u.label}:{lab}" for u in units for lab in LABELS]
    assert f"reached {cov.ops_reached} of 8 ops (4 of 9 stats)" in plan.rationale
    assert "full protocol needs a budget of 41 probes" in plan.rationale
    full = planner.coverage(band_space, states(band_space).state(41))
    assert full.complete and full.stats_reached == 9


def test_a_ban_drops_an_op_without_reshuffling_the_others(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    planner = DJSandboxPlanner(seed=4)
    free = planner.units(pool_space, states(pool_space).state(24))
    banned = planner.units(pool_space, states(pool_space).state(24, banned={"image_shape_filter"}))
    assert banned == [u for u in free if u.op != "image_shape_filter"]


@pytest.mark.parametrize(("budget", "k"), [(12, 2), (24, 3), (41, 3), (60, 4)])
def test_all_combinations_of_the_top_k_pools_k_sized_to_the_budget(
    band_space: PoolSpace,
    states,  # noqa: ANN001
    budget: int,
    k: int,
) -> None:
    planner = DJSandboxPlanner(seed=0)
    b, reached = measure_singles(band_space, states, planner, budget)
    plan = planner.propose(b.state(budget), band_space)
    ranked = planner.ranking(b.state(budget), band_space, reached)
    assert [r.unit for r in ranked] == reached[::-1]  # by gain: the last reached gains most
    assert [r.pool.part for r in ranked] == [i % 3 for i in reversed(range(len(reached)))]
    want = {f"combo:top_{'_'.join(map(str, s))}": s for n in range(2, k + 1) for s in combinations(range(k), n)}
    got = {p.purpose: p for p in plan.proposals}
    assert len(want) == 2**k - 1 - k
    nonempty = {w for w, s in want.items() if np.logical_and.reduce([ranked[i].pool.mask for i in s]).any()}
    assert set(got) == nonempty and nonempty  # an empty intersection is skipped (as the sandbox does)
    for purpose, prop in got.items():
        subset = want[purpose]
        assert prop.ops == [ranked[i].pool.choice for i in subset]
        kept = band_space.apply(band_space.to_recipe(prop.ops)).kept
        assert np.array_equal(kept, np.logical_and.reduce([ranked[i].pool.mask for i in subset]))
    assert f"top {k} stats" in plan.rationale


def test_combinations_resume_where_they_stopped_then_replicate(band_space: PoolSpace, states) -> None:  # noqa: ANN001
    planner = DJSandboxPlanner(seed=0)
    b, _ = measure_singles(band_space, states, planner, 24)
    first = planner.propose(b.state(24), band_space).proposals
    assert len(first) == 4
    for p in first[:2]:
        b.add(p.ops, p.purpose, 0.56)
    rest = planner.propose(b.state(24), band_space).proposals
    assert [p.purpose for p in rest] == [p.purpose for p in first[2:]]  # same k, same pools
    for p in rest:
        b.add(p.ops, p.purpose, 0.57)
    state = b.state(24)
    plan = planner.propose(state, band_space)
    end = replication_plan(state)  # the shared end game, with the coverage added to its rationale
    assert plan.proposals == end.proposals and plan.converged == end.converged
    assert plan.rationale.startswith(end.rationale) and "full protocol needs a budget of" in plan.rationale


def test_coverage_text() -> None:
    cov = Coverage(ops_total=8, ops_reached=3, stats_total=9, stats_reached=4, budget=24, full_budget=41)
    assert cov.describe() == (
        "reached 3 of 8 ops (4 of 9 stats); the full protocol needs a budget of 41 probes, this run has 24"
    )
