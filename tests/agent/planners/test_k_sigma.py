"""k-sigma baseline: one recipe, every bound at mean -/+ 3 std of its stat, probed on three seeds."""

from __future__ import annotations

import numpy as np

from recipelab.agent.planners import KSigmaPlanner
from recipelab.agent.space import PoolSpace


def test_first_plan_is_the_baseline(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    plan = KSigmaPlanner().propose(states(pool_space).state(12), pool_space)
    (p,) = plan.proposals
    assert (p.purpose, p.ops, p.seeds) == ("baseline", [], 2)


def test_bounds_sit_at_three_sigma(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    state = states(pool_space).baseline().state(12)
    (p,) = KSigmaPlanner().propose(state, pool_space).proposals
    assert (p.purpose, p.seeds, p.kind) == ("k-sigma", 3, "recipe")
    assert [c.op for c in p.ops] == pool_space.filter_names  # every filter, no dedup
    checked = 0
    for ch in p.ops:
        got = {q.name: float(q.value) for q in ch.quantiles}
        for d in pool_space.entries[ch.op].dims:
            v = pool_space.stat_for(ch.op, d.param)[0].finite_values()
            if d.side == "min":
                want = np.mean(v < v.mean() - 3 * v.std())
                assert got[d.param] <= 0.2, f"{ch.op}.{d.param}: a 3-sigma lower bound cuts a tail only"
            else:
                want = np.mean(v <= v.mean() + 3 * v.std())
                assert got[d.param] >= 0.8, f"{ch.op}.{d.param}: a 3-sigma upper bound cuts a tail only"
            assert got[d.param] == round(float(want), 4), f"{ch.op}.{d.param}"
            checked += 1
    assert checked == sum(len(pool_space.entries[n].dims) for n in pool_space.filter_names)


def test_the_recipe_keeps_most_of_the_pool(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    """Three sigma on each side removes outliers, not whole halves of a distribution."""
    state = states(pool_space).baseline().state(12)
    (p,) = KSigmaPlanner().propose(state, pool_space).proposals
    kept = pool_space.apply(pool_space.to_recipe(p.ops)).n_kept
    assert 0.6 * pool_space.n < kept < pool_space.n


def test_banned_filters_are_left_out(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    state = states(pool_space).baseline().state(12, banned={"text_length_filter"})
    (p,) = KSigmaPlanner().propose(state, pool_space).proposals
    assert "text_length_filter" not in [c.op for c in p.ops]


def test_one_shot_then_done(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    b = states(pool_space).baseline()
    (p,) = KSigmaPlanner().propose(b.state(12), pool_space).proposals
    for s in range(3):
        b.add(p.ops, "k-sigma", 0.55, s)
    plan = KSigmaPlanner().propose(b.state(12), pool_space)
    assert plan.converged and not plan.proposals
    assert KSigmaPlanner().propose(b.state(5), pool_space).converged  # budget spent
