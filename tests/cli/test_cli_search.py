"""``recipelab probe`` and ``search`` as a user meets them: one JSON document with each metric once and the
headline named, leaked pool rows dropped with a warning (or a one-line error under ``--on-leak fail``),
and one line naming the known tasks for an unknown ``--task``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from recipelab.describe import metric_meaning, probe_document
from recipelab.memory import Memory
from recipelab.workspace import Workspace
from tests.cli._cli import TINY_PROBE, invoke


def _probe(pool: Path, ev: Path, rec: Path, *extra: str, ws: Path):  # noqa: ANN202
    return invoke("probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), *TINY_PROBE, *extra, ws=ws)


def test_probe_json_has_metrics_once_and_names_the_primary(probe_data, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = recipe("process:\n  - text_length_filter:\n      min_len: 5\n")
    ws = tmp_path / "ws"
    r = _probe(pool, ev, rec, "--json", ws=ws)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done" and not doc["cache_hit"]
    assert 0 <= doc["metrics"]["mean_recall"] <= 1 and "zeroshot_colour" in doc["metrics"]
    # each metric once: not again inside the trainer's result
    assert "metrics" not in doc["result"] and r.stdout.count('"recall@1"') == 1
    assert doc["primary_metric"] == "mean_recall" and doc["primary_value"] == doc["metrics"]["mean_recall"]
    assert "recall@1" in doc["primary_meaning"] and "recall@5" in doc["primary_meaning"]
    assert doc["pool"] == 96 and doc["result"]["train_size"] == 32
    again = json.loads(_probe(pool, ev, rec, "--json", ws=ws).stdout)
    assert again["cache_hit"] and again["metrics"] == doc["metrics"]
    runs = json.loads(invoke("runs", "--json", ws=ws).stdout)
    assert len(runs) == 2 and {r["kind"] for r in runs} == {"probe"}
    exps = json.loads(invoke("experiments", "--run", doc["run_id"], "--json", ws=ws).stdout)
    assert len(exps) == 1 and exps[0]["status"] == "done" and "recipe_yaml" not in exps[0]
    table = invoke("experiments", ws=ws)
    assert table.exit_code == 0 and "2 experiment(s)" in table.stdout
    text = _probe(pool, ev, rec, ws=ws)
    assert text.exit_code == 0 and "(primary)" in text.stdout and "mean_recall" in text.stdout


def test_probe_of_recipe_keeping_nothing_is_a_failed_probe(probe_data, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = recipe("process:\n  - text_length_filter:\n      min_len: 10000\n")
    doc = json.loads(_probe(pool, ev, rec, "--json", ws=tmp_path / "ws").stdout)
    assert doc["status"] == "failed" and "keeps 0 samples" in doc["error"]
    assert doc["primary_metric"] == "mean_recall" and doc["primary_value"] is None


def test_leaked_pool_rows_are_dropped_with_a_warning(probe_data, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    pool, ev = probe_data
    shutil.copy(tmp_path / "img" / "p0.png", tmp_path / "img" / "e0.png")  # eval image == pool image
    rec = recipe("process: []\n")
    ws = tmp_path / "ws"
    r = _probe(pool, ev, rec, ws=ws)
    assert r.exit_code == 0, r.stderr
    warning = " ".join(r.stderr.split())
    assert "dropped 1 pool row(s)" in warning and "byte-identical" in warning and "p0" in warning
    assert "kept 95 of 95" in " ".join(r.stdout.split())  # the leaked row left the pool
    doc = json.loads(_probe(pool, ev, rec, "--json", ws=ws).stdout)
    assert doc["pool"] == 95
    events = json.loads(invoke("logs", doc["run_id"], "--json", ws=ws).stdout)["events"]
    assert any((e.get("payload") or {}).get("leak", {}).get("pool_ids") == ["p0"] for e in events)


def test_search_on_leak_fail_is_the_strict_one_line_error(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    shutil.copy(tmp_path / "img" / "p0.png", tmp_path / "img" / "e0.png")
    ws = tmp_path / "ws"
    storage = f"sqlite:///{tmp_path / 'shared_optuna.sqlite'}"
    r = invoke(
        "search", "--data", str(pool), "--eval", str(ev), "--on-leak", "fail", "--optuna-storage", storage, ws=ws
    )
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "byte-identical to a eval image" in lines[0] and "p0" in lines[0]
    (run,) = json.loads(invoke("runs", "--json", ws=ws).stdout)
    assert run["status"] == "failed" and run["kind"] == "search"
    assert run["config"]["on_leak"] == "fail" and run["config"]["optuna_storage"] == storage
    bad = invoke("search", "--data", str(pool), "--eval", str(ev), "--on-leak", "maybe", ws=ws)
    assert bad.exit_code == 2 and "on_leak" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_search_needs_data_and_eval(tmp_path: Path) -> None:
    r = invoke("search", ws=tmp_path / "ws")
    assert r.exit_code == 2 and "--data and --eval are required" in r.stderr


def test_unknown_task_is_one_line_naming_the_tasks(probe_data, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = recipe("process: []\n")
    for args in (
        ["probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), "--task", "t3i"],
        ["search", "--data", str(pool), "--eval", str(ev), "--task", "t3i"],
        ["bench", "calibrate", str(tmp_path), "--task", "t3i"],
    ):
        r = invoke(*args, ws=tmp_path / "ws")
        assert r.exit_code == 2, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "'t3i'" in lines[0] and re.search(r"known tasks: (\S+, )*clip", lines[0]), r.stderr
    # from a config file the same check holds (the config's own validation)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {pool}\neval: {ev}\ntask: t3i\n")
    r = invoke("search", "--config", str(cfg), ws=tmp_path / "ws")
    assert (
        r.exit_code == 2
        and re.search(r"known tasks: (\S+, )*clip", r.stderr)
        and len(r.stderr.strip().splitlines()) == 1
    )
    assert not Memory(Workspace.open(tmp_path / "ws").memory_path).list_runs()  # nothing recorded


def test_probe_document_and_metric_meanings() -> None:
    exp = {
        "id": 7,
        "status": "done",
        "kept_size": 10,
        "metrics": {"mean_recall": 0.5, "recall@1": 0.25},
        "result": {"metrics": {"mean_recall": 0.5, "recall@1": 0.25}, "primary_metric": "mean_recall", "seed": 1},
        "primary_value": 0.5,
        "cached_from": None,
    }
    doc = probe_document("r1", exp, 20)
    assert doc["result"] == {"primary_metric": "mean_recall", "seed": 1} and doc["metrics"] == exp["metrics"]
    assert (doc["primary_metric"], doc["primary_value"], doc["cache_hit"]) == ("mean_recall", 0.5, False)
    assert metric_meaning("recall@1") == "mean of image->text and text->image recall@1"
    assert metric_meaning("i2t_r@5").startswith("image->text recall@5")
    assert "colour" in metric_meaning("zeroshot_colour") and metric_meaning("nonsense") == ""


def test_progress_lines_and_outcome(tmp_path: Path, tiny_bench: Path, capsys) -> None:  # noqa: ANN001
    """Off a terminal, progress is one plain line per new probe count; the outcome names recipe and logs."""
    from rich.console import Console

    from recipelab.cli._progress import ProgressView, _live_panel, print_outcome
    from tests.conftest import make_synthetic_loop

    loop = make_synthetic_loop(tmp_path, tiny_bench, budget_probes=3, test_seeds=0)
    try:
        outcome = loop.run()
        view = ProgressView("lines")
        view(loop)
        view(loop)  # same probe count: nothing new to say
        live = ProgressView("live")
        with live.showing():
            live(loop)  # the terminal panel renders from the same loop state
        assert live.live is None
        panel = Console(record=True, width=200)
        panel.print(_live_panel(loop))
        text = panel.export_text()
        assert f"run {loop.run_id}" in text and "probes 3/3" in text
    finally:
        loop.close()
    print_outcome(outcome, " --workspace W")
    cap = capsys.readouterr()
    assert cap.err.count("probes 3/3") == 1
    assert f"recipelab logs {loop.run_id} --workspace W" in cap.out and "best_recipe.yaml" in cap.out


def test_ctrl_c_prints_how_to_resume_and_resume_keeps_the_runs_storage(probe_data, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The loop does the Ctrl-C bookkeeping; the CLI says how to resume, exits 130, and ``--resume latest``
    reopens the run with the Optuna storage it was started with (a later flag cannot move it)."""
    from recipelab.agent.loop import SearchLoop

    seen: list[tuple[str, str]] = []

    def interrupted(self: SearchLoop) -> None:
        seen.append((self.run_id, self.ws.optuna_storage))
        raise KeyboardInterrupt

    monkeypatch.setattr(SearchLoop, "run", interrupted)
    pool, ev = probe_data
    ws = tmp_path / "ws"
    storage = f"sqlite:///{tmp_path / 'mine.sqlite'}"
    r = invoke("search", "--data", str(pool), "--eval", str(ev), "--optuna-storage", storage, ws=ws)
    assert r.exit_code == 130
    rid = seen[0][0]
    assert f"resume with: recipelab search --resume {rid} --workspace {ws}" in " ".join(r.stderr.split())
    assert seen[0][1] == storage
    r = invoke("search", "--resume", "latest", "--optuna-storage", "sqlite:///elsewhere.sqlite", ws=ws)
    assert r.exit_code == 130 and seen[1] == (rid, storage)
    assert "ignored with --resume" in r.stderr and f"run id: {rid}" in r.stdout


def test_warm_start_flag_names_a_missing_run_in_one_line_and_starts_nothing(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    ws = tmp_path / "ws"
    r = invoke("search", "--data", str(pool), "--eval", str(ev), "--warm-start", "r-20990101-0000", ws=ws)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--warm-start r-20990101-0000: no run by that id" in lines[0], lines
    assert json.loads(invoke("runs", "--json", ws=ws).stdout) == []
    bad = invoke("search", "--data", str(pool), "--eval", str(ev), "--warm-start", "no such id!", ws=ws)
    assert bad.exit_code == 2 and "warm_start" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
