"""``recipelab transfer`` and ``search --transfer-check`` with real (tiny) CLIP probes: the check runs after
the search, is recorded in the run's summary and log, says when the train size is capped, prints one
JSON document under ``--json``, and a second check trains nothing."""

from __future__ import annotations

import json
from pathlib import Path

from recipelab.agent.state import load_state
from recipelab.memory import Memory
from recipelab.workspace import Workspace
from tests.cli._cli import invoke

#: TINY_PROBE without --image-size (search keeps the default 32 px).
TINY_SEARCH = ["--steps", "3", "--batch-size", "8", "--train-size", "32"]


def test_bad_run_id_is_one_line(tmp_path: Path) -> None:
    r = invoke("transfer", "r-20990101-0000", ws=tmp_path / "ws")
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "no run 'r-20990101-0000'" in r.stderr


def test_search_transfer_check_then_transfer_reuses_its_probes(probe_data, tmp_path: Path) -> None:  # noqa: ANN001
    pool, ev = probe_data
    ws = tmp_path / "ws"
    r = invoke(
        "search", "--data", str(pool), "--eval", str(ev), *TINY_SEARCH, "--budget-probes", "3", "--planner", "stat",
        "--test-seeds", "0", "--ops", "text_length_filter,words_num_filter", "--warm-start", "off",
        "--transfer-check", "--json", ws=ws,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    rid, first = doc["run_id"], doc["transfer"]
    assert len(first["recipes"]) >= 2 and first["probes"]["new"] == 3 * len(first["recipes"])
    assert first["scale"]["train_size"] == 128 and first["scale"]["steps"] == 12  # 32 x 4, 3 x 4
    assert first["scale"]["width"]["vision.hidden_size"] == [96, 192]
    mem = Memory(Workspace.open(ws).memory_path)
    assert load_state(mem, rid).used == 3  # the scale-up probes are not search probes
    runs = json.loads(invoke("runs", "--json", ws=ws).stdout)
    assert runs[0]["probes_used"] == 3
    logs = invoke("logs", rid, "--kind", "info", ws=ws).stdout
    assert "transfer check ran after the search" in logs and "transfer check:" in logs

    # the same check again: one JSON document, every probe found by its fingerprint
    again = invoke("transfer", rid, "--json", ws=ws)
    assert again.exit_code == 0, again.stderr
    doc2 = json.loads(again.stdout)
    assert doc2["probes"]["new"] == 0 and doc2["probes"]["total"] == first["probes"]["total"]
    assert doc2["decision_accuracy"] == first["decision_accuracy"] and doc2["spearman"] == first["spearman"]
    assert mem.get_run(rid)["summary"]["transfer"]["probes"]["new"] == 0

    # the table: the pool (96) is smaller than 128, so every recipe's train size is capped, and it says so
    text = invoke("transfer", rid, ws=ws)
    assert text.exit_code == 0, text.stderr
    flat = " ".join(text.stdout.split())
    assert "train size capped at what the recipe keeps: rank 0 (96 kept < 128)" in flat
    assert "decision accuracy:" in flat and "Spearman" in flat and "(capped)" in flat
    report = invoke("report", rid, "--out", str(tmp_path / "r.html"), ws=ws)
    assert report.exit_code == 0
    page = (tmp_path / "r.html").read_text()
    section = page.split('<section id="transfer">', 1)[1].split("</section>", 1)[0]
    assert "Decision accuracy" in section and "(x4)" in section and 'src="data:image/png;base64,' in section
