"""Threshold search with Optuna (ask/tell), in quantile space, in a storage optuna-dashboard can open.

One study per (run, search proposal); ``load_if_exists`` plus reconciling trials that were running
when the process died makes a search resumable without re-running a finished probe.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import optuna

from recipelab.agent.plan import OpChoice, ParamValue, Proposal, SearchDim

optuna.logging.set_verbosity(logging.WARNING)

ENABLED = ".enabled"


def param_name(dim: SearchDim) -> str:
    return f"{dim.op}.{dim.param}"


def open_study(storage: str, name: str, seed: int) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
    return optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=sampler, load_if_exists=True
    )


def enqueue_start(study: optuna.Study, proposal: Proposal) -> None:
    """Queue the proposal's own starting thresholds as the first trial (once)."""
    if study.trials:
        return
    params = {}
    for d in proposal.search:
        ch = next((c for c in proposal.ops if c.op == d.op), None)
        q = next((float(p.value) for p in (ch.quantiles if ch else []) if p.name == d.param), None)
        if q is not None:
            params[param_name(d)] = min(max(q, d.low_q), d.high_q)
    if params:
        study.enqueue_trial(params, skip_if_exists=True)


def suggest_choices(trial: optuna.Trial, proposal: Proposal) -> list[OpChoice]:
    """The proposal's ops with each searched threshold replaced by the trial's quantile; ops listed in
    ``proposal.toggle_ops`` are kept or left out by a categorical the trial also samples."""
    dims = {(d.op, d.param): d for d in proposal.search}
    out = []
    for ch in proposal.ops:
        if ch.op in proposal.toggle_ops and not trial.suggest_categorical(f"{ch.op}{ENABLED}", [True, False]):
            continue
        qs = {p.name: float(p.value) for p in ch.quantiles}
        for (op, param), d in dims.items():
            if op == ch.op:
                qs[param] = trial.suggest_float(param_name(d), d.low_q, d.high_q)
        out.append(
            OpChoice(
                op=ch.op, params=ch.params, quantiles=[ParamValue(name=k, value=round(v, 4)) for k, v in qs.items()]
            )
        )
    return out


def choices_from_params(params: dict[str, float], proposal: Proposal) -> list[OpChoice]:
    """Rebuild a trial's choices from stored params (for trials reconciled after a crash)."""
    out = []
    for ch in proposal.ops:
        if ch.op in proposal.toggle_ops and not params.get(f"{ch.op}{ENABLED}", True):
            continue
        qs = {p.name: float(p.value) for p in ch.quantiles}
        for d in proposal.search:
            if d.op == ch.op and param_name(d) in params:
                qs[d.param] = float(params[param_name(d)])
        out.append(
            OpChoice(
                op=ch.op, params=ch.params, quantiles=[ParamValue(name=k, value=round(v, 4)) for k, v in qs.items()]
            )
        )
    return out


def running_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING]


def importances(study: optuna.Study) -> dict[str, float]:
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 4 or len({tuple(sorted(t.params.items())) for t in done}) < 3:
        return {}
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def all_importances(storage: str, names: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in names:
        try:
            st = optuna.load_study(study_name=n, storage=storage)
        except KeyError:
            continue
        out.update(importances(st))
    return out
