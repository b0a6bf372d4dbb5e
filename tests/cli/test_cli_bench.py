"""``recipelab bench``: make with a scenario, one-line errors for unknown scenarios, tasks and folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli._cli import invoke

SMALL = ["--size", "40", "--eval-size", "8", "--test-size", "8", "--image-size", "32"]


def test_bench_make_json_records_the_scenario(tmp_path: Path) -> None:
    r = invoke("bench", "make", "--out", str(tmp_path / "b"), *SMALL, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["scenario"] == "default" and doc["size"] == 40
    assert (tmp_path / "b" / "truth.jsonl").exists()
    r = invoke("bench", "make", "--out", str(tmp_path / "b2"), *SMALL)
    assert r.exit_code == 0 and "benchmark 'default'" in " ".join(r.stdout.split())


def test_bench_make_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    r = invoke("bench", "make", "--out", str(tmp_path / "b"), *SMALL, "--scenario", "nope")
    assert r.exit_code == 2 and "unknown benchmark scenario 'nope'" in r.stderr and "default" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bench_calibrate_and_score_need_a_benchmark_folder(tmp_path: Path) -> None:
    r = invoke("bench", "calibrate", str(tmp_path / "none"), ws=tmp_path / "ws")
    assert r.exit_code == 2 and "no truth.jsonl" in r.stderr


def test_bench_calibrate_probe_json_is_checked_before_any_work(tmp_path: Path) -> None:
    bench = tmp_path / "b"
    assert invoke("bench", "make", "--out", str(bench), *SMALL).exit_code == 0
    for probe, msg in (
        ("{not json", "--probe: not JSON"),
        ("[1, 2]", "--probe: expected a JSON object"),
        ('{"stepz": 3}', "--probe: field stepz: Extra inputs are not permitted"),
        ('{"steps": 0}', "--probe: field steps: Input should be greater than or equal to 1"),
    ):
        r = invoke("bench", "calibrate", str(bench), "--probe", probe, ws=tmp_path / "ws")
        assert r.exit_code == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_calibration_reports_every_metric_signed_and_paired() -> None:
    from recipelab.calibrate import Calibration

    cal = Calibration(train_size=10, seeds=3, primary_metric="score")
    cal.metrics = {
        "oracle": {"test": {"score": [0.5, 0.6, 0.7], "fd": [1.0, 1.1, 0.9]}},
        "no_filter": {"test": {"score": [0.1, 0.3, 0.2], "fd": [2.0, 2.2, 1.9]}},
        "random": {"test": {"score": [0.2, 0.2, 0.2]}},
    }
    per = cal.per_metric("test")
    assert per["score"]["oracle"] == pytest.approx(0.6) and per["score"]["random"] == pytest.approx(0.2)
    assert "random" not in per["fd"]
    assert per["score"]["gap_over_std"] == pytest.approx(0.4 / 0.1)  # (0.6 - 0.2) / the larger seed sd (0.1)
    assert per["score"]["paired_gap_over_sd"] > 0 > per["fd"]["gap_over_std"]  # lower-is-better separates negative
