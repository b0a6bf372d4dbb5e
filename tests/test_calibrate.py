"""Benchmark scoring: gap closed = (final - no filter) / (oracle - no filter), measured, written, logged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from recipelab.calibrate import gap_closed, score_run
from recipelab.data.benchmark import oracle_ids


def test_gap_closed_formula() -> None:
    assert gap_closed(0.3, 0.2, [0.4, 0.4])["gap_closed"] == pytest.approx(0.5)
    assert gap_closed(0.5, 0.2, [0.35, 0.45])["gap_closed"] == pytest.approx(1.5)
    assert gap_closed(0.1, 0.2, [0.3])["gap_closed"] == pytest.approx(-1.0)
    assert math.isnan(gap_closed(0.3, 0.2, [0.2])["gap_closed"])  # no room: not a score


def test_score_run_trains_the_oracle_and_records_the_gap(tmp_path: Path, tiny_bench: Path, synthetic_env) -> None:  # noqa: ANN001
    from tests.conftest import make_synthetic_loop

    loop = make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, budget_probes=8, test_seeds=2)
    out = loop.run()
    calls = synthetic_env.calls
    res = score_run(loop.ws, loop.mem, loop.run_id, tiny_bench, env=synthetic_env)
    assert synthetic_env.calls == calls + 2  # the oracle, on the run's two test seeds
    t = out.summary["test"]
    assert res["final"] == t["final"]["mean"] and res["no_filter"] == t["baseline"]["mean"]
    # the synthetic metric of the oracle pool is its clean share (1.0) plus seed noise
    clean = set(oracle_ids(tiny_bench))
    assert res["oracle"] == pytest.approx(1.0, abs=0.1) and len(clean) > 0
    expect = (res["final"] - res["no_filter"]) / (res["oracle"] - res["no_filter"])
    assert res["gap_closed"] == pytest.approx(expect)
    assert 0 < res["gap_closed"] < 1.5
    assert json.loads(loop.ws.bench_score_path(loop.run_id).read_text())["gap_closed"] == res["gap_closed"]
    assert any("gap closed" in e["message"] for e in loop.mem.events(loop.run_id, kinds="info"))
    assert np.isfinite(res["oracle_std"])


def test_score_run_needs_a_test_result(tmp_path: Path, tiny_bench: Path, synthetic_env) -> None:  # noqa: ANN001
    from tests.conftest import make_synthetic_loop

    loop = make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, budget_probes=4, test_seeds=0)
    loop.run()
    with pytest.raises(ValueError, match="no test-split result"):
        score_run(loop.ws, loop.mem, loop.run_id, tiny_bench, env=synthetic_env)
    with pytest.raises(ValueError, match="no run"):
        score_run(loop.ws, loop.mem, "r-nope", tiny_bench, env=synthetic_env)
