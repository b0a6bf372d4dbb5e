"""Planners: the statistical planner (default), the LLM planner, and the baseline strategies.

One module per planner (``statistical``, ``llm``, ``random_search``, ``optuna_tpe``, ``dj_sandbox``,
``k_sigma``); shared parts in ``base``; names -> factories in ``registry`` (``PLANNERS``), which is what
``make_planner`` reads.
"""

from __future__ import annotations

from recipelab.agent.planners.base import Planner, PlannerContext, replication_reserve
from recipelab.agent.planners.dj_sandbox import DJSandboxPlanner
from recipelab.agent.planners.k_sigma import KSigmaPlanner
from recipelab.agent.planners.optuna_tpe import OptunaPlanner
from recipelab.agent.planners.random_search import RandomPlanner
from recipelab.agent.planners.registry import (
    PLANNERS,
    PlannerFactory,
    UnknownPlannerError,
    make_planner,
    planner_factory,
)
from recipelab.agent.planners.statistical import StatisticalPlanner

__all__ = [
    "PLANNERS",
    "DJSandboxPlanner",
    "KSigmaPlanner",
    "OptunaPlanner",
    "Planner",
    "PlannerContext",
    "PlannerFactory",
    "RandomPlanner",
    "StatisticalPlanner",
    "UnknownPlannerError",
    "make_planner",
    "planner_factory",
    "replication_reserve",
]
