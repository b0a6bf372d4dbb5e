"""Threshold search with Optuna (ask/tell), in quantile space, in a storage optuna-dashboard can open.

One study per (run, search proposal); ``load_if_exists`` plus reconciling trials that were running
when the process died makes a search resumable without re-running a finished probe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import optuna

from recipelab.agent.plan import OpChoice, ParamValue, Proposal, SearchDim

if TYPE_CHECKING:
    from recipelab.agent.recorder import ProbeRecorder

optuna.logging.set_verbosity(logging.WARNING)

ENABLED = ".enabled"


def study_name(run_id: str, proposal: Proposal) -> str:
    """One study per distinct search of a run: the same search (ops, ranges, toggles) resumes its study,
    another search (e.g. the LLM planner's) never mixes its trials into it."""
    import hashlib
    import json

    key = proposal.model_dump(mode="json", include={"ops", "search", "toggle_ops"})
    return f"{run_id}:search:{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]}"


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


# ---------------------------------------------------------------------- the driver
class OptunaDriver:
    """Runs a ``search`` proposal: ask -> probe (through the recorder) -> tell, within the budget.

    Counts new probes, not trials: TPE may suggest quantiles that give a recipe already measured (ties
    in integer stats); such a trial is told the known result for free and another is asked.
    remaining: probes left in the run's budget (re-read from the memory each time);
    between_batches: applies pending directives and returns the ops the user has banned meanwhile.
    """

    def __init__(
        self,
        recorder: ProbeRecorder,
        storage: str,
        study_name: str,
        seed: int,
        remaining: Callable[[], int],
        between_batches: Callable[[], set[str]],
        batch: int = 1,
    ) -> None:
        self.rec = recorder
        self.storage = storage
        self.study_name = study_name
        self.seed = seed
        self.remaining = remaining
        self.between_batches = between_batches
        self.batch = max(1, batch)

    def run(self, prop: Proposal, step: int) -> int:
        """Returns how many new probes the search spent."""
        study = open_study(self.storage, self.study_name, seed=self.seed)
        enqueue_start(study, prop)
        spent = 0
        # Reconcile trials left running by a crash: tell finished ones, re-run the others.
        for ft in running_trials(study):
            ids = self.rec.submit([(choices_from_params(ft.params, prop), 0, f"search:{ft.number}")], step)
            self._tell(study, ft.number, ids[0] if ids else None)
            spent += 1
        asked = 0
        while spent < prop.n_trials and self.remaining() > 0 and asked < 4 * prop.n_trials + 8:
            k = min(self.batch, prop.n_trials - spent, self.remaining())
            trials = [study.ask() for _ in range(k)]
            asked += k
            before = self.remaining()
            ids = self.rec.submit([(suggest_choices(t, prop), 0, f"search:{t.number}") for t in trials], step)
            for t, eid in zip(trials, ids, strict=False):
                self._tell(study, t.number, eid)
            spent += before - self.remaining()
            banned = self.between_batches() & {c.op for c in prop.ops}
            if banned:  # the user banned an op of this search: stop it, the planner re-plans without it
                self.rec.mem.log_event(
                    self.rec.run_id, "decision", f"search stopped: {', '.join(sorted(banned))} banned by the user"
                )
                break
        return spent

    def _tell(self, study: optuna.Study, number: int, eid: int | None) -> None:
        v = self.rec.value(eid)
        if v is not None and math.isfinite(v):
            study.tell(number, float(v))
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)
