"""Plan validation: every op name, parameter and number a planner sends is checked before it runs."""

from __future__ import annotations

from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, SearchDim
from recipelab.agent.validate import validate_plan


def _space(synthetic_loop):  # noqa: ANN001, ANN202
    loop = synthetic_loop(budget_probes=4, test_seeds=0)
    loop.prepare()
    return loop.space


def test_bad_proposals_are_dropped_with_a_reason_and_good_ones_kept(synthetic_loop) -> None:  # noqa: ANN001
    space = _space(synthetic_loop)
    good = Proposal(kind="recipe", ops=[OpChoice(op="text_length_filter")], purpose="good")
    plan = Plan(
        proposals=[
            good,
            Proposal(kind="recipe", ops=[OpChoice(op="text_lenght_filter")], purpose="typo"),
            Proposal(kind="recipe", ops=[OpChoice(op="image_shape_filter")], purpose="banned"),
            Proposal(kind="recipe", ops=[OpChoice(op="flagged_words_filter")], purpose="not a candidate"),
            Proposal(
                kind="recipe",
                ops=[OpChoice(op="text_length_filter", params=[ParamValue(name="min_len", value="lots")])],
                purpose="bad value",
            ),
            Proposal(
                kind="search",
                ops=[OpChoice(op="text_length_filter")],
                search=[SearchDim(op="text_length_filter", param="no_such", low_q=0.1, high_q=0.2)],
                n_trials=3,
                purpose="bad dim",
            ),
        ]
    )
    kept, errors = validate_plan(plan, space, frozenset({"image_shape_filter"}))
    assert [p.purpose for p in kept.proposals] == ["good"]
    text = "\n".join(errors)
    assert len(errors) >= 5
    assert "did you mean text_length_filter" in text
    assert "banned by the user" in text
    assert "not among this run's candidate ops" in text
