"""Paired strategy comparisons: the interval, the test-scoring share and the seeds needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sstats

from recipelab.evidence import MAX_SEEDS, PairedComparison, compare, t_half_width


def test_compare_pairs_test_seeds_and_matches_a_hand_computed_t_interval() -> None:
    a = {0: {0: 0.50, 1: 0.54}, 1: {0: 0.40, 1: 0.44}, 2: {0: 0.60, 1: 0.58}}
    b = {0: {0: 0.45, 1: 0.47}, 1: {0: 0.41, 1: 0.39}, 2: {0: 0.50, 1: 0.52}}
    c = compare(a, b)
    assert c is not None and c.n == 3
    per_seed = np.array([0.06, 0.02, 0.08])  # mean over test seeds of a - b
    assert c.mean == pytest.approx(per_seed.mean())
    sd = per_seed.std(ddof=1)
    half = sstats.t.ppf(0.95, 2) * sd / math.sqrt(3)
    assert (c.lo, c.hi) == pytest.approx((per_seed.mean() - half, per_seed.mean() + half))
    assert c.sd == pytest.approx(sd)
    # within-seed differences: (0.05, 0.07), (-0.01, 0.05), (0.10, 0.06) -> var/2 each, rms over seeds
    within = [np.var([0.05, 0.07], ddof=1) / 2, np.var([-0.01, 0.05], ddof=1) / 2, np.var([0.10, 0.06], ddof=1) / 2]
    assert c.scoring_sd == pytest.approx(math.sqrt(np.mean(within)))


def test_verdicts_follow_the_interval_only() -> None:
    up = compare({s: {0: 1.0 + 0.01 * s} for s in range(4)}, {s: {0: 0.0} for s in range(4)})
    assert up is not None and up.lo > 0 and up.verdict == "A beats B"
    down = compare({s: {0: 0.0} for s in range(4)}, {s: {0: 1.0 + 0.01 * s} for s in range(4)})
    assert down is not None and down.verdict == "B beats A"
    noisy = compare({0: {0: 1.0}, 1: {0: -1.0}, 2: {0: 0.2}}, {s: {0: 0.0} for s in range(3)})
    assert noisy is not None and noisy.lo < 0 < noisy.hi and noisy.verdict == "no measurable difference"


def test_unpaired_seeds_are_left_out_and_no_overlap_gives_none() -> None:
    c = compare({0: {0: 1.0}, 1: {0: 2.0}, 5: {0: 9.0}}, {0: {0: 0.0}, 1: {0: 0.0}, 2: {1: 0.0}})
    assert c is not None and c.n == 2 and c.mean == pytest.approx(1.5)
    assert c.scoring_sd is None  # one test seed per search: scoring noise cannot be separated
    assert compare({0: {0: 1.0}}, {1: {0: 1.0}}) is None
    one = compare({0: {0: 1.0}}, {0: {0: 0.0}})
    assert one is not None and math.isnan(one.sd) and one.verdict == "no measurable difference"


def test_seeds_needed_is_the_first_n_whose_interval_excludes_zero() -> None:
    c = PairedComparison(n=3, mean=0.1, lo=-0.1, hi=0.3, sd=0.2)
    n = c.seeds_needed()
    assert n is not None
    assert t_half_width(0.2, n) < 0.1 <= t_half_width(0.2, n - 1)
    assert PairedComparison(3, 0.0, -1, 1, 0.2).seeds_needed() is None
    assert PairedComparison(3, 1e-6, -1, 1, 10.0).seeds_needed() == MAX_SEEDS + 1


def test_scaled_keeps_the_verdict_and_orders_the_interval() -> None:
    c = PairedComparison(3, 0.02, 0.01, 0.03, 0.005, 0.004)
    g = c.scaled(1 / 0.1)
    assert (g.mean, g.lo, g.hi, g.sd, g.scoring_sd) == pytest.approx((0.2, 0.1, 0.3, 0.05, 0.04))
    assert g.verdict == c.verdict and g.scoring_share == pytest.approx(c.scoring_share)
    flipped = c.scaled(-1.0)
    assert flipped.lo < flipped.hi and flipped.verdict == "B beats A"
