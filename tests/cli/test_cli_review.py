"""``runs``, ``logs``, ``chat``, ``report``: 'latest' is the newest search (never an ad-hoc probe), the
report's dashboard command names the run's own Optuna storage, logs filter by kind."""

from __future__ import annotations

import json
from pathlib import Path

from recipelab.memory import Memory
from tests.cli._cli import TINY_PROBE, invoke
from tests.conftest import make_synthetic_loop


def _search_then_probe(tmp_path: Path, bench: Path, **cfg: object) -> tuple[str, str, Path]:
    """A finished (synthetic) search run, then a newer ad-hoc probe run; returns (search id, probe id, ws)."""
    loop = make_synthetic_loop(tmp_path, bench, budget_probes=3, test_seeds=0, **cfg)
    try:
        loop.run()
    finally:
        loop.close()
    mem = Memory(loop.ws.memory_path)
    probe_id = mem.create_run({**loop.cfg.model_dump(mode="json")}, {"probes": 1, "ad_hoc_probe": True})
    mem.log_event(probe_id, "info", "an ad-hoc probe")
    return loop.run_id, probe_id, loop.ws.root


def test_latest_is_the_newest_search_not_a_probe(tmp_path: Path, tiny_bench: Path) -> None:
    search_id, probe_id, ws = _search_then_probe(tmp_path, tiny_bench)
    assert json.loads(invoke("logs", "--json", ws=ws).stdout)["run_id"] == search_id
    assert json.loads(invoke("logs", "latest", "--json", ws=ws).stdout)["run_id"] == search_id
    assert json.loads(invoke("logs", probe_id, "--json", ws=ws).stdout)["run_id"] == probe_id  # still reachable
    r = invoke("chat", "-m", "/status", "--no-llm", "--json", ws=ws)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["run_id"] == search_id
    rows = {r["id"]: r for r in json.loads(invoke("runs", "--json", ws=ws).stdout)}
    assert rows[search_id]["kind"] == "search" and rows[probe_id]["kind"] == "probe"
    assert rows[search_id]["probes_used"] == 3
    table = invoke("runs", ws=ws)
    assert table.exit_code == 0 and "2 run(s)" in table.stdout and "probe" in table.stdout
    score = invoke("bench", "score", "latest", str(tiny_bench), ws=ws)  # lands on the search, which has no test
    assert score.exit_code == 2 and f"run {search_id} has no test-split result" in score.stderr


def test_report_names_the_runs_optuna_storage(tmp_path: Path, tiny_bench: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'team' / 'optuna.sqlite'}"
    search_id, _, ws = _search_then_probe(tmp_path, tiny_bench, optuna_storage=storage)
    r = invoke("report", "--out", str(tmp_path / "r.html"), ws=ws)
    assert r.exit_code == 0, r.stderr
    assert f"optuna-dashboard {storage}" in r.stdout and (tmp_path / "r.html").exists()
    doc = json.loads(invoke("report", "--out", str(tmp_path / "r.html"), "--json", ws=ws).stdout)
    assert doc == {"run_id": search_id, "report": str((tmp_path / "r.html").resolve()), "optuna_storage": storage}


def test_report_default_storage_is_the_workspace_file(tmp_path: Path, tiny_bench: Path) -> None:
    search_id, _, ws = _search_then_probe(tmp_path, tiny_bench)
    doc = json.loads(invoke("report", search_id, "--out", str(tmp_path / "r.html"), "--json", ws=ws).stdout)
    assert doc["optuna_storage"] == f"sqlite:///{(ws / 'optuna.sqlite').resolve()}"


def test_no_run_and_unknown_run_are_one_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for args in (["logs"], ["report"], ["chat", "-m", "hi"], ["bench", "score", "latest", str(tmp_path)]):
        r = invoke(*args, ws=ws)
        assert r.exit_code == 2 and "no run in this workspace yet" in r.stderr, args
        assert len(r.stderr.strip().splitlines()) == 1
    r = invoke("logs", "nope", ws=ws)
    assert r.exit_code == 2 and "no run 'nope'" in r.stderr


def test_logs_json_and_kind_filter(probe_data, tmp_path: Path, recipe) -> None:  # noqa: ANN001
    pool, ev = probe_data
    rec = recipe("process: []\n")
    ws = tmp_path / "ws"
    args = ("probe", "--recipe", str(rec), "--data", str(pool), "--eval", str(ev), *TINY_PROBE, "--json")
    rid = json.loads(invoke(*args, ws=ws).stdout)["run_id"]
    doc = json.loads(invoke("logs", rid, "--json", ws=ws).stdout)
    kinds = {e["kind"] for e in doc["events"]}
    assert {"info", "probe"} <= kinds
    only = json.loads(invoke("logs", rid, "--kind", "probe", "--json", ws=ws).stdout)
    assert only["events"] and {e["kind"] for e in only["events"]} == {"probe"}
    text = invoke("logs", rid, ws=ws)
    assert text.exit_code == 0 and "mean_recall=" in text.stdout
    bad = invoke("logs", rid, "--kind", "gossip", ws=ws)
    assert bad.exit_code == 2 and "unknown kind" in bad.stderr
