"""The command line through typer's runner: every command on tiny data, --json is one JSON document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipelab.cli import app
from tests.conftest import make_image, write_rows

runner = CliRunner()


def invoke(*args: str, ws: Path) -> object:
    return runner.invoke(app, [*args, "--workspace", str(ws)], catch_exceptions=False)


def test_ops_list_and_show() -> None:
    r = runner.invoke(app, ["ops", "list", "--json"])
    assert r.exit_code == 0
    ops = {o["name"]: o for o in json.loads(r.stdout)}
    assert len(ops) >= 26  # the 11 text, 6 image, 4 dedup ops and 5 mappers of the foundation issue
    assert ops["text_length_filter"]["stats_keys"] == ["text_len"]
    assert ops["image_sharpness_filter"]["new_op"] is True
    r = runner.invoke(app, ["ops", "show", "image_aspect_ratio_filter"])
    assert r.exit_code == 0 and "min_ratio" in r.stdout and "aspect_ratios" in r.stdout
    r = runner.invoke(app, ["ops", "show", "image_aspect_filter"])
    assert r.exit_code == 2 and "did you mean" in r.stderr and "image_aspect_ratio_filter" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_analyze_writes_table_plots_and_hits_cache(tiny_dataset: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ops = "text_length_filter,words_num_filter,image_aspect_ratio_filter,document_deduplicator"
    r = invoke("analyze", str(tiny_dataset), "--ops", ops, "--out", str(tmp_path / "an"), "--json", ws=ws)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["samples"] == 8 and doc["cache"]["misses"] == 4
    stats = {row["stat"] for row in doc["describe"]}
    assert {"text_len", "num_words", "aspect_ratios"} <= stats
    assert doc["duplicates"]["document_deduplicator"] == 1
    assert (tmp_path / "an" / "describe.csv").exists() and (tmp_path / "an" / "correlation.png").exists()
    assert (tmp_path / "an" / "hist_text_len.png").exists()
    again = json.loads(
        invoke("analyze", str(tiny_dataset), "--ops", ops, "--out", str(tmp_path / "an"), "--json", ws=ws).stdout
    )
    assert again["cache"] == {"hits": 4, "misses": 0}


def test_apply_writes_kept_rows_with_stats(tiny_dataset: Path, tmp_path: Path) -> None:
    rec = tmp_path / "r.yaml"
    rec.write_text("process:\n  - text_length_filter:\n      min_len: 5\n  - document_deduplicator:\n")
    out = tmp_path / "out" / "kept.jsonl"
    r = invoke("apply", str(rec), str(tiny_dataset), "--out", str(out), "--export-stats", "--json", ws=tmp_path / "ws")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["kept"] == 6 and [x["removed"] for x in doc["removed"]] == [1, 1]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("__dj__stats__" in row and "text_len" in row["__dj__stats__"] for row in rows)
    assert all((out.parent / row["images"][0]).exists() for row in rows)  # paths rewritten relative to output
    assert rows[0]["meta"] == {"k": 0}  # extra fields kept
    r = invoke("apply", str(rec), str(tiny_dataset), "--out", str(out), ws=tmp_path / "ws")
    assert r.exit_code == 0 and "document_deduplicator" in r.stdout


def test_apply_bad_recipe_is_one_clear_line(tiny_dataset: Path, tmp_path: Path) -> None:
    rec = tmp_path / "bad.yaml"
    rec.write_text("process:\n  - text_length_filter:\n      min_len: -x\n")
    r = invoke("apply", str(rec), str(tiny_dataset), "--out", str(tmp_path / "o.jsonl"), ws=tmp_path / "ws")
    assert r.exit_code == 2
    assert "bad.yaml: process[1] text_length_filter: field min_len" in r.stderr


@pytest.fixture
def probe_data(tmp_path: Path) -> tuple[Path, Path]:
    colours = [(220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 220, 40)]
    names = ["red", "green", "blue", "yellow"]
    pool, ev = [], []
    for i in range(96):
        c = i % 4
        make_image(tmp_path / "img" / f"p{i}.png", colour=colours[c], seed=i)
        pool.append({"id": f"p{i}", "text": f"a {names[c]} square number {i % 7}", "images": [f"img/p{i}.png"]})
    for i in range(24):
        c = i % 4
        make_image(tmp_path / "img" / f"e{i}.png", colour=colours[c], seed=1000 + i)
        ev.append(
            {"id": f"e{i}", "text": f"a {names[c]} square", "images": [f"img/e{i}.png"], "labels": {"colour": names[c]}}
        )
    return write_rows(tmp_path / "pool.jsonl", pool), write_rows(tmp_path / "eval.jsonl", ev)


TINY_PROBE = ["--steps", "3", "--batch-size", "8", "--image-size", "16", "--train-size", "32"]


def test_probe_stores_result_and_second_run_is_a_cache_hit(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = tmp_path / "r.yaml"
    rec.write_text("process:\n  - text_length_filter:\n      min_len: 5\n")
    ws = tmp_path / "ws"
    args = ["probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), *TINY_PROBE]
    r = invoke(*args, "--json", ws=ws)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done" and 0 <= doc["metrics"]["mean_recall"] <= 1 and not doc["cache_hit"]
    assert "zeroshot_colour" in doc["metrics"]
    again = json.loads(invoke(*args, "--json", ws=ws).stdout)
    assert again["cache_hit"] and again["metrics"] == doc["metrics"]
    runs = json.loads(invoke("runs", "--json", ws=ws).stdout)
    assert len(runs) == 2
    exps = json.loads(invoke("experiments", "--run", doc["run_id"], "--json", ws=ws).stdout)
    assert len(exps) == 1 and exps[0]["status"] == "done"
    table = invoke("experiments", ws=ws)
    assert table.exit_code == 0 and "2 experiment(s)" in table.stdout


def test_probe_of_recipe_keeping_nothing_is_a_failed_probe(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = tmp_path / "r.yaml"
    rec.write_text("process:\n  - text_length_filter:\n      min_len: 10000\n")
    r = invoke(
        "probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), *TINY_PROBE, "--json", ws=tmp_path / "ws"
    )
    doc = json.loads(r.stdout)
    assert doc["status"] == "failed" and "keeps 0 samples" in doc["error"]


def test_leakage_between_pool_and_eval_is_an_error(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    shutil.copy(tmp_path / "img" / "p0.png", tmp_path / "img" / "e0.png")  # eval image == pool image
    rec = tmp_path / "r.yaml"
    rec.write_text("process: []\n")
    r = invoke("probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), *TINY_PROBE, ws=tmp_path / "ws")
    assert r.exit_code == 2
    assert "byte-identical to a pool image" in r.stderr and "e0" in r.stderr


def test_logs_json_and_kind_filter(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = tmp_path / "r.yaml"
    rec.write_text("process: []\n")
    ws = tmp_path / "ws"
    rid = json.loads(
        invoke(
            "probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), *TINY_PROBE, "--json", ws=ws
        ).stdout
    )["run_id"]
    doc = json.loads(invoke("logs", rid, "--json", ws=ws).stdout)
    kinds = {e["kind"] for e in doc["events"]}
    assert {"info", "probe"} <= kinds
    only = json.loads(invoke("logs", rid, "--kind", "probe", "--json", ws=ws).stdout)
    assert only["events"] and {e["kind"] for e in only["events"]} == {"probe"}
    text = invoke("logs", rid, ws=ws)
    assert text.exit_code == 0 and "mean_recall=" in text.stdout
    bad = invoke("logs", rid, "--kind", "gossip", ws=ws)
    assert bad.exit_code == 2 and "unknown kind" in bad.stderr
