"""Threshold search with Optuna (ask/tell), in quantile space, in a storage optuna-dashboard can open.

One study per (run, search proposal); ``load_if_exists`` plus reconciling trials that were running
when the process died makes a search resumable without re-running a finished probe.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import optuna

from recipelab.agent.plan import OpChoice, ParamValue, Proposal, SearchDim

if TYPE_CHECKING:
    from recipelab.agent.fidelity import Ladder
    from recipelab.agent.recorder import ProbeRecorder
    from recipelab.agent.surrogate import Prediction, Surrogate

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


def open_study(storage: str, name: str, seed: int, ladder: Ladder | None = None) -> optuna.Study:
    """The study of one search; with a fidelity ladder its pruner is Optuna's successive halving on the
    ladder's rungs (intermediate values are reported at each rung, in training steps)."""
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if ladder is not None and len(ladder.rungs) > 1:
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=ladder.rungs[0], reduction_factor=ladder.eta, min_early_stopping_rate=0
        )
    return optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
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
    if proposal.start_on is not None:
        params.update({f"{op}{ENABLED}": op in proposal.start_on for op in proposal.toggle_ops})
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
    remaining: budget left in full probes (re-read from the memory each time; fractions count where the
        fidelity ladder runs segments);
    between_batches: applies pending directives and returns the ops the user has banned meanwhile.
    """

    def __init__(
        self,
        recorder: ProbeRecorder,
        storage: str,
        study_name: str,
        seed: int,
        remaining: Callable[[], float],
        between_batches: Callable[[], set[str]],
        batch: int = 1,
        surrogate: Surrogate | None = None,
        ladder: Ladder | None = None,
    ) -> None:
        self.rec = recorder
        self.storage = storage
        self.study_name = study_name
        self.seed = seed
        self.remaining = remaining
        self.between_batches = between_batches
        self.batch = max(1, batch)
        self.surrogate = surrogate
        self.ladder = ladder if ladder is not None and len(ladder.rungs) > 1 else None
        self.rng = np.random.default_rng(seed)

    def run(self, prop: Proposal, step: int) -> float:
        """Returns how much budget (in full probes) the search spent."""
        study = open_study(self.storage, self.study_name, seed=self.seed, ladder=self.ladder)
        enqueue_start(study, prop)
        spent = 0.0
        # Reconcile trials left running by a crash: tell finished ones, re-run the others.
        for ft in running_trials(study):
            ids = self.rec.submit([(choices_from_params(ft.params, prop), 0, f"search:{ft.number}")], step)
            self._tell(study, ft.number, ids[0] if ids else None)
            spent += 1
        asked = 0
        first = (self.ladder.rungs[0] / self.ladder.steps) if self.ladder else 1.0
        while spent < prop.n_trials - 1e-9 and self.remaining() >= first - 1e-9 and asked < 4 * prop.n_trials + 8:
            k = min(self.batch, math.ceil(prop.n_trials - spent - 1e-9), math.floor(self.remaining() / first + 1e-9))
            fitted = self._fit_surrogate()
            trials, pickers = [], []
            for _ in range(k):
                pickers.append(self._maybe_enqueue_pick(study, prop) if fitted else "tpe")
                trials.append(study.ask())
            asked += k
            before = self.remaining()
            items = [(suggest_choices(t, prop), 0, f"search:{t.number}") for t in trials]
            preds = self.surrogate.predict([c for c, _, _ in items]) if fitted and self.surrogate else []
            if self.ladder is not None:
                ids = self._climb(study, trials, items, step)
            else:
                ids = self.rec.submit(items, step)
                for t, eid in zip(trials, ids, strict=False):
                    self._tell(study, t.number, eid)
            for (_, _, purpose), eid, pred, who in zip(items, ids, preds, pickers, strict=False):
                self._log_prediction(purpose, eid, pred, who)
            spent += before - self.remaining()
            banned = self.between_batches() & {c.op for c in prop.ops}
            if banned:  # the user banned an op of this search: stop it, the planner re-plans without it
                self.rec.mem.log_event(
                    self.rec.run_id, "decision", f"search stopped: {', '.join(sorted(banned))} banned by the user"
                )
                break
        return spent

    def _climb(self, study: optuna.Study, trials: list[optuna.Trial], items: list, step: int) -> list[int | None]:
        """Trials up the fidelity ladder: each rung's value is reported to its trial, the pruner (successive
        halving over every trial of the study at that rung) stops the weak ones, the rest resume from their
        checkpoint. Returns each trial's last experiment id; a pruned trial is told PRUNED, and is logged."""
        assert self.ladder is not None
        live = list(range(len(trials)))
        last: dict[int, int | None] = {}
        prev = 0
        for rung in self.ladder.rungs:
            full = rung == self.ladder.steps
            need = len(live) * (rung - prev) / self.ladder.steps
            if prev and self.remaining() < need - 1e-9:
                for i in live:  # never over the budget: the rest of the climb is cut, not compared across rungs
                    study.tell(trials[i].number, state=optuna.trial.TrialState.PRUNED)
                self.rec.mem.log_event(
                    self.rec.run_id, "decision", f"search trials stopped at rung {prev}: the budget is spent"
                )
                live = []
                break
            prev = rung
            ids = self.rec.submit([items[i] for i in live], step, stop_step=None if full else rung)
            for i, eid in zip(live, ids, strict=True):
                last[i] = eid
            if full:
                break
            keep = []
            for i in live:
                eid = last[i]
                v = self.rec.value(eid)
                if v is None or not math.isfinite(v):
                    self._tell(study, trials[i].number, None)
                    continue
                trials[i].report(float(v), rung)
                if trials[i].should_prune():
                    study.tell(trials[i].number, state=optuna.trial.TrialState.PRUNED)
                    self.rec.mem.log_event(
                        self.rec.run_id,
                        "decision",
                        f"{items[i][2]} pruned at rung {rung}/{self.ladder.steps} steps ({v:.4f}): below the best "
                        f"1/{self.ladder.eta} of the search's trials at that rung",
                        {"fidelity": {"rung": rung, "pruned": {"purpose": items[i][2], "value": v, "experiment": eid}}},
                    )
                else:
                    keep.append(i)
            live = keep
            if not live:
                break
        for i in live:
            self._tell(study, trials[i].number, last[i])
        return [last.get(i) for i in range(len(trials))]

    # ------------------------------------------------------------------ surrogate
    def _fit_surrogate(self) -> bool:
        if self.surrogate is None:
            return False
        from recipelab.agent.state import load_state

        return self.surrogate.fit(load_state(self.rec.mem, self.rec.run_id))

    def _maybe_enqueue_pick(self, study: optuna.Study, prop: Proposal) -> str:
        """On every other trial (odd numbers; none while a queued trial waits), queue the surrogate's pick:
        the highest upper confidence bound among random points of the search box. Returns who picks."""
        assert self.surrogate is not None
        from recipelab.agent.surrogate import CANDIDATES, KAPPA

        waiting = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.WAITING]
        if waiting or len(study.get_trials(deepcopy=False)) % 2 == 0:
            return "start" if waiting else "tpe"
        cands = []
        for _ in range(CANDIDATES):
            params: dict[str, object] = {param_name(d): float(self.rng.uniform(d.low_q, d.high_q)) for d in prop.search}
            for op in prop.toggle_ops:
                params[f"{op}{ENABLED}"] = bool(self.rng.integers(2))
            cands.append(params)
        preds = self.surrogate.predict([choices_from_params(p, prop) for p in cands])  # type: ignore[arg-type]
        best = max(range(len(cands)), key=lambda i: preds[i].mean + KAPPA * preds[i].sd)
        study.enqueue_trial(cands[best])
        return "surrogate"

    def _log_prediction(self, purpose: str, eid: int | None, pred: Prediction, who: str) -> None:
        """Logged before the result is read, so ``surrogate.prediction_quality`` can join it afterwards."""
        n = self.surrogate.n if self.surrogate else 0
        self.rec.mem.log_event(
            self.rec.run_id,
            "info",
            f"surrogate ({n} probes): {purpose} ({who}'s pick) predicted {pred.mean:.4f} ± {pred.sd:.4f}",
            {
                "surrogate": {
                    "experiment": eid,
                    "purpose": purpose,
                    "predicted": pred.mean,
                    "sd": pred.sd,
                    "picked_by": who,
                    "n_fit": n,
                }
            },
        )

    def _tell(self, study: optuna.Study, number: int, eid: int | None) -> None:
        v = self.rec.value(eid)
        if v is not None and math.isfinite(v):
            study.tell(number, float(v))
        else:
            study.tell(number, state=optuna.trial.TrialState.FAIL)
