"""Planners: the statistical planner (default), the LLM planner, and baseline strategies."""

from __future__ import annotations

from typing import Any

from recipelab.agent.planners.base import Planner, replication_reserve
from recipelab.agent.planners.baselines import DJSandboxPlanner, KSigmaPlanner, OptunaPlanner, RandomPlanner
from recipelab.agent.planners.statistical import StatisticalPlanner
from recipelab.config import SearchConfig

__all__ = [
    "DJSandboxPlanner",
    "KSigmaPlanner",
    "OptunaPlanner",
    "Planner",
    "RandomPlanner",
    "StatisticalPlanner",
    "make_planner",
    "replication_reserve",
]


def make_planner(cfg: SearchConfig, memory: Any = None, run_id: str | None = None, train_size: int = 0) -> Planner:
    """--strategy picks a baseline; for the agent, --planner auto takes the LLM when one is configured."""
    if cfg.strategy == "random":
        return RandomPlanner(seed=cfg.seed)
    if cfg.strategy == "optuna":
        return OptunaPlanner()
    if cfg.strategy == "dj-sandbox":
        return DJSandboxPlanner()
    if cfg.strategy == "k-sigma":
        return KSigmaPlanner()
    use_llm = cfg.planner == "llm" or (cfg.planner == "auto" and cfg.llm.configured)
    if use_llm:
        from recipelab.agent.planners.llm import LLMPlanner

        return LLMPlanner(
            cfg.llm,
            fallback=StatisticalPlanner(),
            memory=memory,
            run_id=run_id,
            task=cfg.task,
            train_size=train_size,
            budget_tokens=cfg.budget_tokens,
        )
    return StatisticalPlanner()
