"""The name -> planner mapping: every configurable name has an entry, unknown names fail clearly."""

from __future__ import annotations

import typing

import pytest

from recipelab.agent.planners import (
    PLANNERS,
    DJSandboxPlanner,
    KSigmaPlanner,
    OptunaPlanner,
    PlannerContext,
    RandomPlanner,
    StatisticalPlanner,
    UnknownPlannerError,
    make_planner,
    planner_factory,
)
from recipelab.config import LLMConfig, PlannerName, SearchConfig, Strategy


def cfg(**kw: object) -> SearchConfig:
    return SearchConfig(data="pool.jsonl", eval="eval.jsonl", **kw)


def test_every_config_name_has_an_entry() -> None:
    names = set(typing.get_args(Strategy)) | (set(typing.get_args(PlannerName)) - {"auto"})
    assert names <= set(PLANNERS)
    assert set(PLANNERS) == {"agent", "stat", "llm", "random", "optuna", "dj-sandbox", "k-sigma"}


@pytest.mark.parametrize(
    ("strategy", "cls"),
    [
        ("random", RandomPlanner),
        ("optuna", OptunaPlanner),
        ("dj-sandbox", DJSandboxPlanner),
        ("k-sigma", KSigmaPlanner),
    ],
)
def test_strategies_build_their_baseline(strategy: str, cls: type) -> None:
    p = make_planner(cfg(strategy=strategy, seed=7), train_size=200)
    assert isinstance(p, cls)
    assert p.name == strategy


def test_seeded_baselines_take_the_run_seed_and_train_size() -> None:
    assert make_planner(cfg(strategy="random", seed=7)).seed == 7
    dj = make_planner(cfg(strategy="dj-sandbox", seed=5), train_size=321)
    assert (dj.seed, dj.train_size) == (5, 321)


def test_agent_picks_its_planner() -> None:
    assert isinstance(make_planner(cfg(planner="stat")), StatisticalPlanner)
    assert isinstance(make_planner(cfg(planner="auto")), StatisticalPlanner)  # no LLM configured
    llm = make_planner(
        cfg(planner="llm", llm=LLMConfig(base_url="http://127.0.0.1:9", model="m")), run_id="r", train_size=99
    )
    assert llm.name == "llm"
    assert isinstance(llm.fallback, StatisticalPlanner)
    assert (llm.run_id, llm.train_size) == ("r", 99)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPlannerError, match="unknown planner 'bogus'; known: agent, dj-sandbox, k-sigma"):
        planner_factory("bogus")
    assert issubclass(UnknownPlannerError, ValueError)
    bad = cfg().model_copy(update={"strategy": "bogus"})  # as a config built without validation would be
    with pytest.raises(UnknownPlannerError):
        make_planner(bad)


def test_a_new_strategy_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    class Toy:
        name = "toy"

    monkeypatch.setitem(PLANNERS, "toy", lambda c, ctx: Toy())
    assert isinstance(make_planner(cfg().model_copy(update={"strategy": "toy"})), Toy)
    assert isinstance(planner_factory("toy")(cfg(), PlannerContext()), Toy)
