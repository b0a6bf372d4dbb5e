"""optuna baseline: TPE over the agent's whole candidate space, deduplicators included."""

from __future__ import annotations

import pytest

from recipelab.agent.planners import OptunaPlanner, replication_reserve
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import PoolSpace


def test_first_plan_is_the_baseline(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    (p,) = OptunaPlanner().propose(states(pool_space).state(20), pool_space).proposals
    assert (p.purpose, p.ops, p.seeds) == ("baseline", [], 2)


def test_searches_every_candidate_op_dedups_included(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    plan = OptunaPlanner().propose(states(pool_space).baseline().state(20), pool_space)
    (p,) = plan.proposals
    assert (p.kind, p.purpose) == ("search", "search")
    ops = [c.op for c in p.ops]
    assert pool_space.dedup_names, "the fixture's space has deduplicators"
    assert set(ops) == set(pool_space.filter_names) | set(pool_space.dedup_names)
    assert set(p.toggle_ops) == set(ops)  # each op, dedups too, has an on/off switch
    for name in pool_space.dedup_names:
        ch = next(c for c in p.ops if c.op == name)
        assert not ch.quantiles and not ch.params
        assert not [d for d in p.search if d.op == name]  # a dedup has no threshold
    assert f"({len(pool_space.dedup_names)} deduplicators)" in plan.rationale


def test_threshold_dims_cut_at_most_a_quarter_per_side(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    (p,) = OptunaPlanner().propose(states(pool_space).baseline().state(20), pool_space).proposals
    want = {(n, d.param, d.side) for n in pool_space.filter_names for d in pool_space.entries[n].dims}
    assert {(d.op, d.param) for d in p.search} == {(n, param) for n, param, _ in want}
    sides = {(n, param): side for n, param, side in want}
    for d in p.search:
        if sides[(d.op, d.param)] == "min":
            assert (d.low_q, d.high_q) == (0.0, OptunaPlanner.TAIL)
        else:
            assert (d.low_q, d.high_q) == (1 - OptunaPlanner.TAIL, 1.0)
    for ch in p.ops:  # the starting point keeps everything
        for q in ch.quantiles:
            assert float(q.value) in (0.0, 1.0)


@pytest.mark.parametrize("done", [0, 3])
def test_trials_fill_the_budget_before_the_reserve(pool_space: PoolSpace, states, done: int) -> None:  # noqa: ANN001
    b = states(pool_space).baseline()
    for i in range(done):
        b.add([], f"search:{i}", 0.5)
    (p,) = OptunaPlanner().propose(b.state(20), pool_space).proposals
    assert p.n_trials == 20 - replication_reserve(20) - 2 - done


def test_banned_ops_are_left_out(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    banned = {"text_length_filter", "document_deduplicator"}
    (p,) = OptunaPlanner().propose(states(pool_space).baseline().state(20, banned=banned), pool_space).proposals
    assert not banned & ({c.op for c in p.ops} | {d.op for d in p.search} | set(p.toggle_ops))


def test_replicates_once_the_trials_are_spent(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    b = states(pool_space).baseline()
    for i in range(20 - replication_reserve(20) - 2):
        b.add([], f"search:{i}", 0.5)
    state = b.state(20)
    assert OptunaPlanner().propose(state, pool_space) == replication_plan(state)  # the shared end game
