"""analysis: pooled seed noise for every candidate's interval, effects against the baseline."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from scipy import stats as sstats

from recipelab.agent import analysis
from recipelab.agent.analysis import DEFAULT_DOF, PRIOR_DOF, Noise, noise_sd, overlaps, ranked
from recipelab.agent.state import SearchState, Trial


def state_of(groups: dict[str, list[float]], purposes: dict[str, str] | None = None) -> SearchState:
    """One trial per value; seeds 0, 1, ... per recipe; recipe ``base`` is the no-filter baseline."""
    trials, i = [], 0
    for fp, vals in groups.items():
        purpose = (purposes or {}).get(fp, "baseline" if fp == "base" else f"screen:{fp}")
        for seed, v in enumerate(vals):
            i += 1
            trials.append(Trial(i, fp, [], purpose, seed, v, "done"))
    return SearchState(run_id="r", budget_probes=100, trials=trials)


def test_lcb_uses_pooled_noise_for_every_candidate() -> None:
    """The re-run of issue 9: a tight 3-seed recipe (mean 0.316) must not beat a better one (0.322)
    whose three seeds happened to spread more; with the pooled noise, equal seeds mean equal widths."""
    st = state_of(
        {
            "base": [0.20, 0.24, 0.18, 0.22],
            "tight": [0.3160, 0.3165, 0.3155],
            "better": [0.302, 0.322, 0.342],
        }
    )
    pooled = noise_sd(st)
    by = {c.recipe_fp: c for c in analysis.candidates(st)}
    tight, better = by["tight"], by["better"]
    assert tight.sd(pooled) == better.sd(pooled) == pytest.approx(float(pooled))
    lo_t, hi_t = tight.interval(pooled)
    lo_b, hi_b = better.interval(pooled)
    assert hi_t - lo_t == pytest.approx(hi_b - lo_b)
    assert ranked(st)[0][0].recipe_fp == "better"
    assert analysis.best_so_far(st)[0].recipe_fp == "better"


def test_more_seeds_narrow_the_interval_by_sqrt_n() -> None:
    st = state_of({"base": [0.2, 0.22], "a": [0.3], "b": [0.3, 0.3, 0.3, 0.3]})
    pooled = noise_sd(st)
    by = {c.recipe_fp: c for c in analysis.candidates(st)}
    w1 = by["a"].half_width(pooled)
    w4 = by["b"].half_width(pooled)
    assert w1 / w4 == pytest.approx(2.0)


def test_noise_carries_its_degrees_of_freedom() -> None:
    st = state_of({"base": [0.2, 0.24, 0.22], "a": [0.3, 0.34], "b": [0.5]})
    pooled = noise_sd(st)
    assert isinstance(pooled, Noise) and isinstance(pooled, float)
    assert pooled.dof == (3 - 1) + (2 - 1) + PRIOR_DOF
    ss = sum(float(((np.array(v) - np.mean(v)) ** 2).sum()) for v in ([0.2, 0.24, 0.22], [0.3, 0.34]))
    assert float(pooled) == pytest.approx(math.sqrt((ss + PRIOR_DOF * 0.03**2) / (3 + PRIOR_DOF)))
    t = sstats.t.ppf(0.95, pooled.dof)
    assert analysis.half_width(pooled, 4) == pytest.approx(t * float(pooled) / 2)
    # a plain float is taken at the default degrees of freedom
    assert analysis.half_width(0.05, 1) == pytest.approx(sstats.t.ppf(0.95, DEFAULT_DOF) * 0.05)
    # it stays a float for storage and formatting
    assert json.loads(json.dumps({"noise_sd": pooled}))["noise_sd"] == pytest.approx(float(pooled))
    again = pickle.loads(pickle.dumps(pooled))
    assert again.dof == pooled.dof and float(again) == float(pooled)
    assert f"{pooled:.3f}" == f"{float(pooled):.3f}"


def test_no_replicates_fall_back_to_the_prior() -> None:
    st = state_of({"base": [0.2], "a": [0.3]})
    pooled = noise_sd(st)
    assert float(pooled) == analysis.DEFAULT_NOISE_SD and pooled.dof == PRIOR_DOF


def test_overlaps() -> None:
    st = state_of({"base": [0.20, 0.21, 0.19, 0.20], "near": [0.205], "far": [0.60]})
    pooled = noise_sd(st)
    by = {c.recipe_fp: c for c in analysis.candidates(st)}
    assert overlaps(by["base"], by["near"], pooled)
    assert not overlaps(by["base"], by["far"], pooled)
    assert overlaps(by["far"], by["far"], pooled)


def test_effect_vs_baseline_is_paired_by_seed() -> None:
    st = state_of({"base": [0.20, 0.30, 0.25], "a": [0.25, 0.35, 0.30]})
    a = next(c for c in analysis.candidates(st) if c.recipe_fp == "a")
    e = analysis.effect_vs_baseline(st, a)
    assert e.paired and e.n == 3
    assert e.mean == pytest.approx(0.05) and e.lo == pytest.approx(0.05)  # identical paired differences
    effects = analysis.op_effects(st)
    assert set(effects) == {"a"} and effects["a"].mean == pytest.approx(0.05)


def test_unpaired_effect_uses_pooled_noise() -> None:
    st = state_of({"base": [0.20, 0.22], "a": [0.30]})
    st.trials[-1].seed_index = 7  # no baseline seed to pair with
    a = next(c for c in analysis.candidates(st) if c.recipe_fp == "a")
    e = analysis.effect_vs_baseline(st, a)
    pooled = noise_sd(st)
    assert not e.paired
    h = sstats.t.ppf(0.95, pooled.dof) * float(pooled) * math.sqrt(1 + 1 / 2)
    assert e.hi - e.mean == pytest.approx(h)
