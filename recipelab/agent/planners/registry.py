"""Planners by name: the one place that maps a strategy or planner name to the code that builds it.

A new strategy is one module plus one entry in ``PLANNERS``. An entry is a factory rather than a class
because planners need different things to be built (a seed, an LLM endpoint, the memory for token
accounting): ``factory(cfg, ctx) -> Planner``, with ``ctx`` carrying what only the loop knows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recipelab.agent.planners.base import Planner, PlannerContext
from recipelab.agent.planners.dj_sandbox import DJSandboxPlanner
from recipelab.agent.planners.k_sigma import KSigmaPlanner
from recipelab.agent.planners.optuna_tpe import OptunaPlanner
from recipelab.agent.planners.random_search import RandomPlanner
from recipelab.agent.planners.statistical import StatisticalPlanner
from recipelab.config import SearchConfig

PlannerFactory = Callable[[SearchConfig, PlannerContext], Planner]


class UnknownPlannerError(ValueError):
    """A strategy or planner name with no entry in ``PLANNERS``; the message lists the known names."""


def _stat(cfg: SearchConfig, ctx: PlannerContext) -> Planner:
    return StatisticalPlanner()


def _llm(cfg: SearchConfig, ctx: PlannerContext) -> Planner:
    """The LLM planner, falling back to the statistical one for a step its reply cannot be used in.
    Imported here, not at the top: LangChain costs about a second to import, and most runs never use it."""
    from recipelab.agent.planners.llm import LLMPlanner

    return LLMPlanner(
        cfg.llm,
        fallback=StatisticalPlanner(),
        memory=ctx.memory,
        run_id=ctx.run_id,
        task=cfg.task,
        train_size=ctx.train_size,
        budget_tokens=cfg.budget_tokens,
    )


def _agent(cfg: SearchConfig, ctx: PlannerContext) -> Planner:
    """The agent's planner: ``--planner auto`` takes the LLM when an endpoint is configured."""
    use_llm = cfg.planner == "llm" or (cfg.planner == "auto" and cfg.llm.configured)
    return planner_factory("llm" if use_llm else "stat")(cfg, ctx)


#: Strategy names (``--strategy``) and the agent's planner names (``--planner``) -> factory.
PLANNERS: dict[str, PlannerFactory] = {
    "agent": _agent,
    "stat": _stat,
    "llm": _llm,
    "random": RandomPlanner.from_config,
    "optuna": OptunaPlanner.from_config,
    "dj-sandbox": DJSandboxPlanner.from_config,
    "k-sigma": KSigmaPlanner.from_config,
}


def planner_factory(name: str) -> PlannerFactory:
    """The factory registered under ``name``; an unknown name is an error that lists the known ones."""
    try:
        return PLANNERS[name]
    except KeyError:
        raise UnknownPlannerError(f"unknown planner {name!r}; known: {', '.join(sorted(PLANNERS))}") from None


def make_planner(cfg: SearchConfig, memory: Any = None, run_id: str | None = None, train_size: int = 0) -> Planner:
    """The planner of a run: ``--strategy`` picks a baseline or the agent, whose ``--planner`` picks stat or LLM."""
    return planner_factory(cfg.strategy)(cfg, PlannerContext(memory=memory, run_id=run_id, train_size=train_size))
