"""Check a plan against the operator registry, the parameter models and the pool's recipe space.

Every string from a planner (an LLM's especially) is data: an op name is looked up, never imported or
executed; numbers must be finite and in range.
"""

from __future__ import annotations

import math

from recipelab.agent.plan import Plan, Proposal
from recipelab.agent.space import PoolSpace
from recipelab.operators.registry import UnknownOperatorError, get_op_class
from recipelab.recipes import RecipeError


def proposal_errors(p: Proposal, space: PoolSpace, index: int, banned: frozenset[str] = frozenset()) -> list[str]:
    errs: list[str] = []
    where = f"proposal {index + 1} ({p.purpose or p.kind})"
    for ch in p.ops:
        if ch.op in banned:
            errs.append(f"{where}: {ch.op} is banned by the user")
            continue
        try:
            cls = get_op_class(ch.op)
        except UnknownOperatorError as e:
            errs.append(f"{where}: {e}")
            continue
        if ch.op not in space.entries and cls.kind != "mapper":
            errs.append(f"{where}: {ch.op} is not among this run's candidate ops")
            continue
        ths = {t.param for t in getattr(cls, "thresholds", ())}
        for q in ch.quantiles:
            if q.name not in ths:
                errs.append(f"{where}: {ch.op}: {q.name} is not a threshold (thresholds: {sorted(ths)})")
            elif (
                isinstance(q.value, bool)
                or not isinstance(q.value, (int, float))
                or not (math.isfinite(float(q.value)) and 0.0 <= float(q.value) <= 1.0)
            ):
                errs.append(f"{where}: {ch.op}.{q.name}: quantile must be a number in [0, 1], got {q.value!r}")
        for pv in ch.params:
            if pv.name not in cls.Params.model_fields:
                errs.append(
                    f"{where}: {ch.op}: unknown parameter {pv.name!r} (parameters: {sorted(cls.Params.model_fields)})"
                )
    if not errs:
        try:
            space.to_recipe(p.ops)
        except (RecipeError, ValueError, KeyError) as e:
            errs.append(f"{where}: {e}")
    if p.kind == "search":
        if not p.search:
            errs.append(f"{where}: a search needs at least one dimension")
        if p.n_trials < 1:
            errs.append(f"{where}: a search needs n_trials >= 1")
        names = {c.op for c in p.ops}
        for d in p.search:
            if d.op not in names:
                errs.append(f"{where}: search dimension {d.op}.{d.param} is not an op of the proposal")
            elif d.low_q >= d.high_q:
                errs.append(f"{where}: search dimension {d.op}.{d.param}: low_q must be < high_q")
            else:
                try:
                    space.stat_for(d.op, d.param)
                except KeyError as e:
                    errs.append(f"{where}: {e.args[0]}")
    return errs


def validate_plan(plan: Plan, space: PoolSpace, banned: frozenset[str] = frozenset()) -> tuple[Plan, list[str]]:
    """The plan with invalid proposals (or ones using a banned op) removed, and one message per problem."""
    good, errors = [], []
    for i, p in enumerate(plan.proposals):
        errs = proposal_errors(p, space, i, banned)
        if errs:
            errors.extend(errs)
        else:
            good.append(p)
    return plan.model_copy(update={"proposals": good}), errors
