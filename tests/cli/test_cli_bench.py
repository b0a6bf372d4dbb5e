"""``recipelab bench``: make with a scenario, one-line errors for unknown scenarios, tasks and folders."""

from __future__ import annotations

import json
from pathlib import Path

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
