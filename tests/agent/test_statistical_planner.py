"""The statistical planner on synthetic objectives (no training): it never stalls, screens what the
evidence misses, flips a hurt side, distrusts evidence the probes contradict, and tunes a lone winner.

Objectives: ``ScoredEnv`` scores a probe by the mean utility of the kept pool (plus seeded noise),
from a per-sample utility the test builds out of the pool's own stats: "bad" samples (0) that one op's
tail holds, "precious" ones (1.6) in the tails of the other ops, so removing those hurts.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from recipelab.agent.analysis import Noise, candidates, effect_vs_baseline
from recipelab.agent.loop import SearchLoop
from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.agent.planners.replicate import MAX_SEEDS, replication_plan, seed_cap
from recipelab.agent.planners.statistical import SPREAD_MIN_TAIL, StatisticalPlanner
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState, Steering, Trial
from recipelab.data.reader import read_dataset
from recipelab.trainers.base import ProbeResult, ProbeSpec
from recipelab.workspace import Workspace
from tests.conftest import SYNTHETIC_OPS, SyntheticEnv, make_synthetic_loop

OPS = SYNTHETIC_OPS
#: Search seeds of the lone-winner test.
SPREAD_SEEDS = (0, 3)


def run_search(ws_dir: Path, bench: Path, env: SyntheticEnv, **cfg_kw) -> SearchLoop:  # noqa: ANN003
    """The one place these tests build and run a SearchLoop: in ``ws_dir`` (whose stats cache
    ``pool_space`` shares), over ``OPS``, probes scored by ``env``."""
    assert ws_dir.name == "ws"  # make_synthetic_loop opens <root>/ws
    loop = make_synthetic_loop(ws_dir.parent, bench, env, ops=OPS, **cfg_kw)
    loop.run()
    return loop


# ---------------------------------------------------------------------- synthetic objectives
class ScoredEnv(SyntheticEnv):
    """SyntheticEnv whose metric is the mean per-sample utility of the kept pool (the draw's expectation,
    so the only noise is the seeded ``noise``), scaled down when the pool is smaller than the train size."""

    def __init__(self, bench: Path, utility: dict[str, float], noise: float = 0.01) -> None:
        super().__init__(bench, noise=noise)
        self.utility = utility

    def run(self, spec: ProbeSpec, split: str = "eval") -> ProbeResult:
        res = super().run(spec, split)
        ids = list(spec.train_ids)
        size = spec.train_size or len(ids)
        m = float(np.mean([self.utility[i] for i in ids])) if ids else 0.0
        m = m * min(1.0, len(ids) / size) + float(np.random.default_rng([spec.seed, 2]).normal(0, self.noise))
        return res.model_copy(update={"metrics": {"mean_recall": m}})


def pool_space(ws_dir: Path, bench: Path) -> PoolSpace:
    """The pool's recipe space, with its stats cached where the search's workspace will find them."""
    ws = Workspace.open(ws_dir)
    return PoolSpace(read_dataset(bench / "pool.jsonl", quiet=True), ws.stats_cache(), ops=OPS, quiet=True)


def tail_mask(space: PoolSpace, op: str, param: str, q: float) -> np.ndarray:
    side = space.side_of(op, param)
    quant = q if side == "min" else 1 - q
    return space.removed([OpChoice(op=op, quantiles=[ParamValue(name=param, value=quant)])])


def utilities(space: PoolSpace, bad: np.ndarray, precious: np.ndarray) -> dict[str, float]:
    u = np.where(bad, 0.0, np.where(precious, 1.6, 1.0))
    return {s.id: float(x) for s, x in zip(space.ds.samples, u, strict=True)}


def all_tails_except(space: PoolSpace, keep: tuple[str, str], q: float = 0.1) -> np.ndarray:
    """Samples in any other op's tails (both sides, ``q`` each) or removed by a deduplicator."""
    out = np.zeros(space.n, dtype=bool)
    for op in OPS:
        if op in space.dedup_names:
            out |= space.removed([OpChoice(op=op)])
            continue
        for param, _, _ in space.thresholds_of(op):
            if (op, param) != keep:
                out |= tail_mask(space, op, param, q)
    return out


def plans(loop: SearchLoop) -> list[dict]:
    return loop.mem.events(loop.run_id, kinds="plan")


def assert_never_stalls(loop: SearchLoop, budget: int) -> None:
    """Every plan that was not the last measured something new; no recipe beyond the seed cap."""
    trials = loop.state().trials
    steps = Counter(t.step for t in trials)
    for ev in plans(loop):
        p = ev.get("payload") or {}
        if not p.get("converged") and p.get("proposals"):
            assert steps[p["step"]] > 0, f"step {p['step']} measured nothing: {ev['message']}"
    per_recipe = Counter(t.recipe_fp for t in trials)
    assert max(per_recipe.values()) <= min(MAX_SEEDS, max(2, budget // 4))
    fps = [(t.recipe_fp, t.seed_index) for t in trials]
    assert len(fps) == len(set(fps))


# ---------------------------------------------------------------------- end-to-end (synthetic)
def test_lone_winner_is_tuned_no_evidence_ops_screened_no_stall(
    tmp_path: Path, tiny_bench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One op alone helps (image entropy's low tail, wider than its evidence says); every other tail
    hurts. The evidence points first at two tails that hurt and knows nothing of most ops. Two search seeds
    (both take the joint search after the first wave): one search's best against its screen varies by
    +-0.03 with the seed alone, so the gain is judged on their mean."""
    ws_dir = tmp_path / "ws"
    space = pool_space(ws_dir, tiny_bench)
    helper = ("image_entropy_filter", "min_entropy")
    bad = tail_mask(space, *helper, 0.15)
    env = ScoredEnv(tiny_bench, utilities(space, bad, all_tails_except(space, helper) & ~bad))

    evidence = {("image_sharpness_filter", "max_sharpness"), ("text_length_filter", "max_len"), helper}
    real = PoolSpace.priors

    def priors(self: PoolSpace) -> list:
        return [p if (p.op, p.param) in evidence else dataclasses.replace(p, t=0.0, outliers=0.0) for p in real(self)]

    monkeypatch.setattr(PoolSpace, "priors", priors)
    no_evidence = {op for op in OPS if op in space.filter_names and op not in {o for o, _ in evidence}}

    B = 24
    gains = []
    for sd in SPREAD_SEEDS:
        loop = run_search(tmp_path / f"s{sd}" / "ws", tiny_bench, env, budget_probes=B, test_seeds=0, seed=sd)
        state = loop.state()
        trials = state.trials
        assert_never_stalls(loop, B)

        # every op without evidence was measured: screened (alone or in a group) or cut by the joint search
        # (no first-wave single clearly helps here, so the search takes over from the screens)
        covered = {
            c.op
            for t in trials
            if t.purpose.startswith(("screen:", "search"))
            for c in t.choices
            if any(0 < float(q.value) < 1 for q in c.quantiles)
        }
        assert no_evidence <= covered, no_evidence - covered

        # the evidence's first picks hurt: it is distrusted, and the plan says so
        assert any("disagrees with the probes" in e["message"] for e in plans(loop))

        # the lone winner's threshold is tuned: a search over it, several quantiles probed
        search = [e for e in plans(loop) if any(p["kind"] == "search" for p in e["payload"]["proposals"])]
        assert search, "no threshold search"
        dims = {(d["op"], d["param"]) for p in search[0]["payload"]["proposals"] for d in p["search"]}
        assert helper in dims
        qs = {
            float(q.value)
            for t in trials
            for c in t.choices
            if c.op == helper[0]
            for q in c.quantiles
            if q.name == helper[1]
        }
        assert len(qs) >= 4
        # ... and the final recipe beats the screened threshold (the bad tail is wider than the evidence's)
        screen = next(t for t in trials if t.purpose == "screen:image_entropy_filter.min_entropy")
        best = loop.mem.get_run(loop.run_id)["summary"]["best"]
        gains.append(best["eval_mean"] - screen.metric)
        ent = [c for c in best["choices"] if c["op"] == helper[0]]
        assert ent and any(q["name"] == helper[1] and q["value"] > 0.08 for q in ent[0]["quantiles"])
    # a search is noisy: over the seeds, the final recipe beats the screen by more than its noise
    assert float(np.mean(gains)) > 0.02, gains


def test_hurt_side_is_flipped_and_the_other_side_found(tmp_path: Path, tiny_bench: Path) -> None:
    """The evidence (robust outliers) points at the max side of sharpness, where precious samples sit;
    the bad ones are on the min side. The hurt screen is flipped and the min side wins."""
    ws_dir = tmp_path / "ws"
    space = pool_space(ws_dir, tiny_bench)
    pri = {(p.op, p.param): p for p in space.priors()}
    assert pri[("image_sharpness_filter", "max_sharpness")].strong
    assert not pri[("image_sharpness_filter", "min_sharpness")].strong
    bad = tail_mask(space, "image_sharpness_filter", "min_sharpness", 0.1)
    precious = tail_mask(space, "image_sharpness_filter", "max_sharpness", 0.15) & ~bad
    env = ScoredEnv(tiny_bench, utilities(space, bad, precious))

    B = 16
    loop = run_search(ws_dir, tiny_bench, env, budget_probes=B, test_seeds=0)
    state = loop.state()
    assert_never_stalls(loop, B)
    by_purpose = {t.purpose: t for t in state.trials}
    assert "screen:image_sharpness_filter.max_sharpness" in by_purpose
    flip = by_purpose.get("screen:image_sharpness_filter.min_sharpness")
    assert flip is not None, sorted(by_purpose)
    assert any("try the min side once" in e["message"] for e in plans(loop))
    cand = next(c for c in candidates(state) if c.recipe_fp == flip.recipe_fp)
    assert effect_vs_baseline(state, cand).mean > 0.03
    best = loop.mem.get_run(loop.run_id)["summary"]["best"]
    sharp = [c for c in best["choices"] if c["op"] == "image_sharpness_filter"]
    assert sharp and any(q["name"] == "min_sharpness" and q["value"] > 0 for q in sharp[0]["quantiles"])
    assert best["eval_mean"] > cand.mean - 0.01


# ---------------------------------------------------------------------- planner steps (no loop)
@pytest.fixture(scope="module")
def text_space(tiny_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> PoolSpace:
    ops = ["text_length_filter", "words_num_filter", "special_characters_filter", "document_deduplicator"]
    ds = read_dataset(tiny_bench / "pool.jsonl", quiet=True)
    ws = Workspace.open(tmp_path_factory.mktemp("ws"))
    return PoolSpace(ds, ws.stats_cache(), ops=ops, quiet=True)


def make_state(space: PoolSpace, rows: list[tuple[str, list[OpChoice], int, float]], budget: int) -> SearchState:
    trials = [
        Trial(i + 1, space.to_recipe(ch).fingerprint(), ch, purpose, seed, metric, "done", step=i + 1)
        for i, (purpose, ch, seed, metric) in enumerate(rows)
    ]
    return SearchState(run_id="r", budget_probes=budget, trials=trials, steering=Steering())


def tail(op: str, param: str, v: float) -> list[OpChoice]:
    return [OpChoice(op=op, quantiles=[ParamValue(name=param, value=v)])]


def test_lone_winner_gets_a_search_even_without_a_combination(text_space: PoolSpace) -> None:
    base = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.52)]
    rows = base + [
        ("screen:text_length_filter.max_len", tail("text_length_filter", "max_len", 0.92), 0, 0.60),
        ("screen:words_num_filter.min_num", tail("words_num_filter", "min_num", 0.05), 0, 0.40),
        ("screen:special_characters_filter.max_ratio", tail("special_characters_filter", "max_ratio", 0.96), 0, 0.38),
        ("screen:document_deduplicator", [OpChoice(op="document_deduplicator")], 0, 0.39),
    ]
    planner = StatisticalPlanner(max_screen=4)
    plan = planner.propose(make_state(text_space, rows, 20), text_space)
    assert [p.kind for p in plan.proposals] == ["search"]
    p = plan.proposals[0]
    dims = {(d.op, d.param): d for d in p.search}
    d = dims[("text_length_filter", "max_len")]
    assert d.low_q <= 0.76 and d.high_q == 1.0  # a wide range on the max side (3x the screened 8% tail)
    assert "lone winner" in plan.rationale
    assert p.n_trials == 20 - 6 - 4  # the exploration room: budget - used - end game reserve


def test_hurt_min_side_flips_to_the_max_side_once(text_space: PoolSpace) -> None:
    base = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.50)]
    hurt = [("screen:words_num_filter.min_num", tail("words_num_filter", "min_num", 0.06), 0, 0.40)]
    planner = StatisticalPlanner(max_screen=6)
    plan = planner.propose(make_state(text_space, base + hurt, 30), text_space)
    purposes = [p.purpose for p in plan.proposals]
    assert "screen:words_num_filter.max_num" in purposes
    # measured and hurt too: no flip back
    flipped = [("screen:words_num_filter.max_num", tail("words_num_filter", "max_num", 0.94), 0, 0.41)]
    plan2 = planner.propose(make_state(text_space, base + hurt + flipped, 30), text_space)
    assert "screen:words_num_filter.min_num" not in [p.purpose for p in plan2.proposals]


def test_end_game_converges_for_a_lone_leader_and_exploration_takes_the_rest(text_space: PoolSpace) -> None:
    """At the reserve, a lone leader needs no tie-break: the planner spends the rest on its search."""
    base = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.50)]
    rows = base + [
        ("screen:text_length_filter.max_len", tail("text_length_filter", "max_len", 0.92), 0, 0.70),
        ("screen:words_num_filter.min_num", tail("words_num_filter", "min_num", 0.05), 0, 0.40),
    ]
    rows += [(f"search:{k}", tail("text_length_filter", "max_len", 0.8 + 0.01 * k), 0, 0.45) for k in range(1, 4)]
    state = make_state(text_space, rows, 9)  # 2 left: the end game's reserve
    plan = StatisticalPlanner(max_screen=2).propose(state, text_space)
    assert "lone leader" in plan.rationale
    assert [p.kind for p in plan.proposals] == ["search"] and plan.proposals[0].n_trials == 2


def test_search_ends_with_budget_left_when_nothing_is_left_to_measure(text_space: PoolSpace) -> None:
    """Every tail screened and clearly harmful, the baseline a lone leader: converge, budget or not."""
    rows = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.50)]
    for op in ("text_length_filter", "words_num_filter", "special_characters_filter"):
        for param, _, side in text_space.thresholds_of(op):
            rows.append((f"screen:{op}.{param}", tail(op, param, 0.05 if side == "min" else 0.95), 0, 0.30))
    rows.append(("screen:document_deduplicator", [OpChoice(op="document_deduplicator")], 0, 0.30))
    plan = StatisticalPlanner().propose(make_state(text_space, rows, 40), text_space)
    assert plan.converged and not plan.proposals
    assert "lone leader" in plan.rationale and "(no filter)" in plan.rationale


# ---------------------------------------------------------------------- the shared end game
def rep_state(groups: dict[str, list[float]], budget: int = 40) -> SearchState:
    trials, i = [], 0
    for fp, vals in groups.items():
        for seed, v in enumerate(vals):
            i += 1
            purpose = "baseline" if fp == "base" else f"screen:{fp}"
            trials.append(Trial(i, fp, [], purpose, seed, v, "done", step=1))
    return SearchState(run_id="r", budget_probes=budget, trials=trials)


def test_seed_cap_follows_the_noise_and_the_budget() -> None:
    st = rep_state({"base": [0.2, 0.21]}, budget=40)
    assert seed_cap(st, Noise(0.03, 3)) == MAX_SEEDS  # t(3)^2 = 5.5: capped
    assert seed_cap(st, Noise(0.03, 5)) == 5  # t(5)^2 = 4.06
    assert seed_cap(st, Noise(0.03, 10)) == 4  # t(10)^2 = 3.28
    assert seed_cap(st, Noise(0.03, 40)) == 3  # t(40)^2 = 2.83
    assert seed_cap(rep_state({"base": [0.2]}, budget=12), Noise(0.03, 10)) == 3  # a quarter of the budget
    assert seed_cap(rep_state({"base": [0.2]}, budget=6), Noise(0.03, 10)) == 2


def test_lone_leader_needs_no_tie_break() -> None:
    plan = replication_plan(rep_state({"base": [0.20, 0.21], "a": [0.50], "b": [0.30]}))
    assert plan.converged and not plan.proposals
    assert "lone leader" in plan.rationale


def test_rivals_get_one_seed_each_leader_first() -> None:
    st = rep_state({"base": [0.20, 0.21], "a": [0.50], "b": [0.49], "c": [0.10]})
    plan = replication_plan(st)
    assert not plan.converged
    assert [(p.purpose, p.seeds, p.first_seed) for p in plan.proposals] == [
        ("replicate:screen:a", 1, 1),
        ("replicate:screen:b", 1, 1),
    ]


def test_replication_ends_at_the_seed_cap_with_budget_left() -> None:
    """Two recipes tied for good: each gets seeds up to the cap, then the end game stops."""
    rng = np.random.default_rng(0)
    st = rep_state({"base": [0.20, 0.21], "a": [0.50], "b": [0.50]}, budget=60)
    for _ in range(30):
        plan = replication_plan(st)
        if plan.converged:
            break
        for p in plan.proposals:
            fp = p.purpose.split(":")[-1]
            for k in range(p.seeds):
                t = Trial(len(st.trials) + 1, fp, [], p.purpose, p.first_seed + k, 0.5 + rng.normal(0, 0.01), "done")
                st.trials.append(t)
    assert plan.converged and st.remaining > 0
    counts = Counter(t.recipe_fp for t in st.trials)
    cap = seed_cap(st)
    assert counts["a"] <= MAX_SEEDS and counts["b"] <= MAX_SEEDS
    assert counts["a"] >= cap and counts["b"] >= cap
    assert "seed cap" in plan.rationale


def test_clear_winner_gets_a_line_search_on_its_tail_before_the_groups(text_space: PoolSpace) -> None:
    """A single tail that clearly helped is searched both ways (x1.5, /1.5); when the wider end wins, one
    step wider; then the line is done and the other screens (flips, groups) follow."""
    base = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.51)]
    win = [("screen:text_length_filter.max_len", tail("text_length_filter", "max_len", 0.9), 0, 0.62)]
    planner = StatisticalPlanner(max_screen=8)
    plan = planner.propose(make_state(text_space, base + win, 30), text_space)
    assert [p.purpose for p in plan.proposals] == [
        "screen:text_length_filter.max_len@0.150",
        "screen:text_length_filter.max_len@0.067",
    ], plan.rationale
    assert "line search" in plan.rationale
    qs = [p.ops[0].quantiles[0].value for p in plan.proposals]
    assert qs == pytest.approx([0.85, 0.9333], abs=1e-3)

    rows = (
        base
        + win
        + [
            ("screen:text_length_filter.max_len@0.150", tail("text_length_filter", "max_len", 0.85), 0, 0.66),
            ("screen:text_length_filter.max_len@0.067", tail("text_length_filter", "max_len", 0.9333), 0, 0.58),
        ]
    )
    plan = planner.propose(make_state(text_space, rows, 30), text_space)
    assert [p.purpose for p in plan.proposals] == ["screen:text_length_filter.max_len@0.225"], plan.rationale
    assert "one step wider" in plan.rationale

    rows += [("screen:text_length_filter.max_len@0.225", tail("text_length_filter", "max_len", 0.775), 0, 0.64)]
    plan = planner.propose(make_state(text_space, rows, 30), text_space)
    purposes = [p.purpose for p in plan.proposals]
    assert purposes and not any("@" in p for p in purposes), purposes  # the line is done: other screens
    assert any(p.startswith("screen:group:") for p in purposes)


def test_no_line_search_when_no_single_clearly_helped(text_space: PoolSpace) -> None:
    base = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.51)]
    rows = base + [("screen:text_length_filter.max_len", tail("text_length_filter", "max_len", 0.9), 0, 0.515)]
    plan = StatisticalPlanner(max_screen=8).propose(make_state(text_space, rows, 30), text_space)
    assert not any("@" in p.purpose for p in plan.proposals), plan.rationale


def first_wave(text_space: PoolSpace, means: dict[str, float]) -> list[tuple[str, list[OpChoice], int, float]]:
    """The baseline and the first wave of evidence singles, each measured at ``means[label]``."""
    planner = StatisticalPlanner()
    base = [("baseline", [], 0, 0.50), ("baseline", [], 1, 0.51)]
    v = planner.view(make_state(text_space, base, 24), text_space)
    wave = planner.screen_list(v)
    assert wave and all(u.kind == "single" for u in wave)
    return base + [(f"screen:{u.label}", u.choices(), 0, means.get(u.label, 0.497)) for u in wave]


def test_no_clear_single_hands_the_screening_budget_to_a_joint_two_sided_search(text_space: PoolSpace) -> None:
    """First wave inconclusive (every single within the noise, none clearly helping or hurting): no flips, no
    groups, no more singles; one search over both sides of every filter's stats, starting from the screens
    that helped by their mean, with the budget the screens would have used."""
    rows = first_wave(
        text_space,
        {
            "text_length_filter.max_len": 0.52,
            "special_characters_filter.max_ratio": 0.495,
            "document_deduplicator": 0.3,
        },
    )
    state = make_state(text_space, rows, 24)
    plan = StatisticalPlanner().propose(state, text_space)
    assert [p.kind for p in plan.proposals] == ["search"], plan.rationale
    p = plan.proposals[0]
    assert "no single screen clearly helped" in plan.rationale
    assert p.n_trials == 24 - len(rows) - 5  # everything but the end game's reserve
    dims = {(d.op, d.param): d for d in p.search}
    for op in ("text_length_filter", "words_num_filter", "special_characters_filter"):
        for param, _, side in text_space.thresholds_of(op):
            d = dims[(op, param)]  # both sides of every stat: bands
            # at least a quarter per side (bands around typical values), at most half
            assert (
                (d.low_q == 0.0 and SPREAD_MIN_TAIL <= d.high_q <= 0.5)
                if side == "min"
                else (0.5 <= d.low_q <= 1 - SPREAD_MIN_TAIL)
            )
    start = {c.op: {q.name: q.value for q in c.quantiles} for c in p.ops}
    assert start["text_length_filter"]["max_len"] == pytest.approx(0.9183, abs=1e-3)  # helped: on
    assert start["text_length_filter"]["min_len"] == 0.0  # not screened: keeps everything at first
    assert start["special_characters_filter"]["max_ratio"] == 1.0  # hurt a little (0.497 vs 0.50): off at first
    assert "document_deduplicator" not in start  # a deduplicator that clearly hurt is left out (and no flip)
    # every searched filter is a switch; the first trial switches on what the screens that helped cut, only
    assert set(p.toggle_ops) == {d.op for d in p.search}
    assert p.start_on is not None and "text_length_filter" in p.start_on
    assert "special_characters_filter" not in p.start_on


def test_a_clear_single_keeps_the_usual_path(text_space: PoolSpace) -> None:
    """One single clearly helping (or clearly hurting) the first wave: line search / flips, never the joint
    search; the spread path is decided from the first wave only."""
    helped = first_wave(text_space, {"text_length_filter.max_len": 0.65})
    plan = StatisticalPlanner().propose(make_state(text_space, helped, 24), text_space)
    assert all(p.kind == "recipe" for p in plan.proposals) and "@" in plan.proposals[0].purpose, plan.rationale
    hurt = first_wave(text_space, {"special_characters_filter.max_ratio": 0.35})
    plan = StatisticalPlanner().propose(make_state(text_space, hurt, 24), text_space)
    assert "screen:special_characters_filter.min_ratio" in [p.purpose for p in plan.proposals], plan.rationale
