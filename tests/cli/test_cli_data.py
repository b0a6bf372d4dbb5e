"""``recipelab analyze`` and ``apply`` on tiny data; error lines stay one line even when stderr is a pipe."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli._cli import invoke, run_subprocess
from tests.conftest import write_rows


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
    again = invoke("analyze", str(tiny_dataset), "--ops", ops, "--out", str(tmp_path / "an"), ws=ws)
    assert again.exit_code == 0 and "4 hit / 0 computed" in " ".join(again.stdout.split())


def test_analyze_unknown_op_is_one_line(tiny_dataset: Path, tmp_path: Path) -> None:
    r = invoke("analyze", str(tiny_dataset), "--ops", "text_lenght_filter", ws=tmp_path / "ws")
    assert r.exit_code == 2 and "did you mean text_length_filter" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_apply_writes_kept_rows_with_stats(tiny_dataset: Path, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    rec = recipe("process:\n  - text_length_filter:\n      min_len: 5\n  - document_deduplicator:\n")
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


def test_apply_bad_recipe_is_one_clear_line(tiny_dataset: Path, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    rec = recipe("process:\n  - text_length_filter:\n      min_len: -x\n", name="bad.yaml")
    r = invoke("apply", str(rec), str(tiny_dataset), "--out", str(tmp_path / "o.jsonl"), ws=tmp_path / "ws")
    assert r.exit_code == 2
    assert "bad.yaml: process[1] text_length_filter: field min_len" in r.stderr


def test_apply_bad_on_error_value(tiny_dataset: Path, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    rec = recipe("process: []\n")
    r = invoke("apply", str(rec), str(tiny_dataset), "--out", str(tmp_path / "o.jsonl"), "--on-error", "x")
    assert r.exit_code == 2 and "--on-error must be skip or fail" in r.stderr


def test_error_lines_never_wrap_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    """Scripts grep ``file:line: field: message``: with stderr a pipe and COLUMNS=80, a 200+ character
    error is still exactly one line, path whole."""
    deep = tmp_path / ("a_rather_long_folder_name_" * 6) / ("and_another_one_" * 4)
    deep.mkdir(parents=True)
    data = write_rows(deep / "data.jsonl", [{"id": "ok", "text": "fine", "images": []}, {"id": "x", "text": 5}])
    rec = deep / "recipe.yaml"
    rec.write_text("process: []\n")
    r = run_subprocess(
        "apply", str(rec), str(data), "--out", str(tmp_path / "o.jsonl"), "--on-error", "fail",
        "--workspace", str(tmp_path / "ws"), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert len(lines[0]) > 200 and lines[0].startswith("error: ") and f"{data}:2: text: " in lines[0]
    bad = deep / "bad.yaml"
    bad.write_text("process:\n  - text_length_filter:\n      min_len: -x\n")
    r = run_subprocess("apply", str(bad), str(data), "--out", str(tmp_path / "o.jsonl"), cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert f"{bad}: process[1] text_length_filter: field min_len" in lines[0]
