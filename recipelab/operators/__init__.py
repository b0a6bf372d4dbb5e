"""Operators: Data-Juicer-style filters, mappers and deduplicators, their registry and cached stats."""

from recipelab.operators.base import (
    Deduplicator,
    Filter,
    Mapper,
    OpContext,
    Operator,
    OpParams,
    QuantileDim,
    Stat,
    Stats,
    Threshold,
    default_search_space,
    stat_quantile,
)
from recipelab.operators.registry import UnknownOperatorError, all_ops, create_op, get_op_class, register

__all__ = [
    "Deduplicator",
    "Filter",
    "Mapper",
    "OpContext",
    "OpParams",
    "Operator",
    "QuantileDim",
    "Stat",
    "Stats",
    "Threshold",
    "UnknownOperatorError",
    "all_ops",
    "create_op",
    "default_search_space",
    "get_op_class",
    "register",
    "stat_quantile",
]
