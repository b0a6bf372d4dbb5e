"""OptunaDriver: ask -> probe -> tell within the budget; a ban stops it; a crash leaves nothing lost."""

from __future__ import annotations

import optuna

from recipelab.agent import optuna_search as osr
from recipelab.agent.plan import Proposal, SearchDim
from recipelab.agent.space import quantile_choice

PROP = Proposal(
    kind="search",
    ops=[quantile_choice("text_length_filter", min_len=0.1), quantile_choice("image_shape_filter", min_width=0.05)],
    search=[
        SearchDim(op="text_length_filter", param="min_len", low_q=0.0, high_q=0.4),
        SearchDim(op="image_shape_filter", param="min_width", low_q=0.0, high_q=0.3),
    ],
    n_trials=6,
    toggle_ops=["image_shape_filter"],
    purpose="search",
)


def _driver(loop, remaining=None, between=None) -> osr.OptunaDriver:  # noqa: ANN001
    return osr.OptunaDriver(
        loop.recorder, loop.ws.optuna_storage, f"{loop.run_id}:search", seed=0,
        remaining=remaining or (lambda: loop.state().remaining),
        between_batches=between or (lambda: set()),
    )  # fmt: skip


def test_search_spends_its_trials_and_tells_every_result(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    spent = _driver(loop).run(PROP, step=1)
    assert spent == 6 == loop.state().used
    study = optuna.load_study(study_name=f"{loop.run_id}:search", storage=loop.ws.optuna_storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) >= 6
    # the first trial is the proposal's own starting point
    assert study.trials[0].params["text_length_filter.min_len"] == 0.1
    # every told value is the probe's measured metric
    vals = {round(e["primary_value"], 9) for e in loop.mem.experiments(loop.run_id) if e["primary_value"] is not None}
    assert {round(t.value, 9) for t in done} <= vals


def test_search_stops_at_the_budget(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=3, test_seeds=0)
    loop.prepare()
    assert _driver(loop).run(PROP, step=1) == 3
    assert loop.state().remaining == 0


def test_a_ban_between_batches_stops_the_search(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    spent = _driver(loop, between=lambda: {"image_shape_filter"}).run(PROP, step=1)
    assert spent == 1
    assert any("banned by the user" in e["message"] for e in loop.mem.events(loop.run_id, kinds="decision"))


def test_a_trial_left_running_by_a_crash_is_reconciled(synthetic_loop) -> None:  # noqa: ANN001
    loop = synthetic_loop(budget_probes=20, test_seeds=0)
    loop.prepare()
    study = osr.open_study(loop.ws.optuna_storage, f"{loop.run_id}:search", seed=0)
    osr.enqueue_start(study, PROP)
    t = study.ask()
    osr.suggest_choices(t, PROP)  # the crash: asked, never told
    _driver(loop).run(PROP.model_copy(update={"n_trials": 2}), step=1)
    study = optuna.load_study(study_name=f"{loop.run_id}:search", storage=loop.ws.optuna_storage)
    assert not osr.running_trials(study)
    assert study.trials[t.number].state == optuna.trial.TrialState.COMPLETE


def test_the_first_trial_switches_on_exactly_start_on() -> None:
    """``start_on`` sets every toggle of the queued first trial (on for the listed ops, off for the rest);
    without it the sampler picks them, as the optuna baseline's search expects."""
    for start_on, want in ((["image_shape_filter"], True), ([], False)):
        study = optuna.create_study(direction="maximize")
        prop = PROP.model_copy(update={"start_on": start_on})
        osr.enqueue_start(study, prop)
        choices = osr.suggest_choices(study.ask(), prop)
        assert ("image_shape_filter" in [c.op for c in choices]) is want
        assert choices[0].op == "text_length_filter" and choices[0].quantiles[0].value == 0.1
    study = optuna.create_study(direction="maximize")
    osr.enqueue_start(study, PROP)
    fixed = study.get_trials(deepcopy=False)[0].system_attrs["fixed_params"]
    assert "image_shape_filter.enabled" not in fixed and fixed["text_length_filter.min_len"] == 0.1
