"""random baseline: random subsets of 1..4 ops, random thresholds in each side's default range."""

from __future__ import annotations

from recipelab.agent.planners import RandomPlanner, replication_reserve
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import PoolSpace


def first_draw(space: PoolSpace, states, seed: int, banned: set[str] | None = None):  # noqa: ANN001, ANN201
    (p,) = RandomPlanner(seed=seed).propose(states(space).baseline().state(20, banned=banned), space).proposals
    return p


def test_first_plan_is_the_baseline(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    (p,) = RandomPlanner().propose(states(pool_space).state(20), pool_space).proposals
    assert (p.purpose, p.ops, p.seeds) == ("baseline", [], 2)


def test_a_draw_is_one_to_four_distinct_ops_in_range(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    candidates = set(pool_space.filter_names) | set(pool_space.dedup_names)
    sizes = set()
    for seed in range(30):
        p = first_draw(pool_space, states, seed)
        assert (p.kind, p.purpose, p.seeds) == ("recipe", "random:0", 1)
        ops = [c.op for c in p.ops]
        sizes.add(len(ops))
        assert 1 <= len(ops) <= 4 and len(set(ops)) == len(ops) and set(ops) <= candidates
        for ch in p.ops:
            if ch.op in pool_space.dedup_names:
                assert not ch.quantiles
                continue
            (q,) = ch.quantiles  # one bound per filter
            d = next(d for d in pool_space.entries[ch.op].dims if d.param == q.name)
            assert d.low <= float(q.value) <= d.high
    assert sizes == {1, 2, 3, 4}


def test_draws_are_seeded(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    assert first_draw(pool_space, states, 3) == first_draw(pool_space, states, 3)
    assert len({first_draw(pool_space, states, s).model_dump_json() for s in range(6)}) >= 5


def test_counts_its_draws_and_redraws_a_measured_recipe(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    p0 = first_draw(pool_space, states, 0)
    b = states(pool_space).baseline().add(p0.ops, "random:0", 0.5)
    (p1,) = RandomPlanner(seed=0).propose(b.state(20), pool_space).proposals
    assert p1.purpose == "random:1"
    # a draw equal to a measured recipe is redrawn, even if that recipe was measured for another purpose
    fresh = RandomPlanner(seed=0).propose(
        states(pool_space).baseline().add(p0.ops, "user:1", 0.5).state(20), pool_space
    )
    (p,) = fresh.proposals
    assert pool_space.to_recipe(p.ops).fingerprint() != pool_space.to_recipe(p0.ops).fingerprint()


def test_banned_ops_are_never_drawn(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    banned = {"text_length_filter", "image_deduplicator"}
    for seed in range(30):
        assert not banned & {c.op for c in first_draw(pool_space, states, seed, banned).ops}


def test_replicates_within_the_reserve_then_stops(pool_space: PoolSpace, states) -> None:  # noqa: ANN001
    b = states(pool_space).baseline()
    for i in range(20 - 2 - replication_reserve(20)):
        b.add(first_draw(pool_space, states, i).ops, f"random:{i}", 0.5 + i / 100)
    state = b.state(20)
    assert RandomPlanner().propose(state, pool_space) == replication_plan(state)  # the shared end game
    assert RandomPlanner().propose(b.state(len(b.trials)), pool_space).converged
