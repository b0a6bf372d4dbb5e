"""Optuna studies in a real PostgreSQL (``--optuna-storage postgresql+psycopg://...``).

The test starts its own PostgreSQL cluster in a temporary folder on a free loopback port (``.ci/run``
installs Debian's ``postgresql`` when its binaries are missing): two search drivers in two processes share
one study with no lost or duplicated trial, a small ``recipelab search`` keeps its studies there, and the
report's dashboard command names that storage with its password hidden.
"""

from __future__ import annotations

import glob
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli._cli import invoke
from tests.executors._ray_cluster import free_port

ROOT = Path(__file__).resolve().parents[1]


def _pg_bin(name: str) -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    return shutil.which(name)


def _as_db_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the ``postgres`` user."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--", *cmd] if runuser else ["su", "postgres", "-c", " ".join(cmd)]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="rlpg", dir="/tmp"))
    data, log = root / "data", root / "pg.log"
    os.chmod(root, 0o777)  # the postgres user writes its cluster, socket and log here
    port = free_port()
    try:
        subprocess.run(
            _as_db_owner([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_db_owner([pg_ctl, "-D", str(data), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE recipelab")
        # trust authentication ignores the password: it is there to be hidden by the report
        yield f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{port}/recipelab"
    finally:
        subprocess.run(
            _as_db_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60
        )
        shutil.rmtree(root, ignore_errors=True)


DRIVER = """
import json, sys
from recipelab.agent.optuna_search import open_study
from recipelab.cli.search import ensure_optuna_storage
url, name, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ensure_optuna_storage(url)  # as `recipelab search` does first: both drivers meet a fresh database
study = open_study(url, name, seed=seed)
mine = []
for _ in range(n):
    t = study.ask()
    x = t.suggest_float("x", 0.0, 1.0)
    study.tell(t, (x - 0.3) ** 2)
    mine.append(t._trial_id)
print(json.dumps(mine))
"""


def test_two_drivers_share_one_study_without_lost_or_duplicated_trials(pg_url: str) -> None:
    import optuna

    n = 8
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, pg_url, "shared:search:test", str(seed), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in (1, 2)
    ]
    told = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        told.append(json.loads(out.strip().splitlines()[-1]))
    study = optuna.load_study(study_name="shared:search:test", storage=pg_url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 2 * n  # none lost
    assert sorted(t.number for t in trials) == list(range(2 * n))  # none numbered twice
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(told[0] + told[1]) == sorted(t._trial_id for t in trials)  # each driver told its own
    assert not set(told[0]) & set(told[1])


@pytest.mark.slow
def test_search_keeps_its_studies_in_postgres_and_report_hides_the_password(
    pg_url: str, tiny_bench: Path, tmp_path: Path
) -> None:
    import optuna

    ws = tmp_path / "ws"
    t0 = time.monotonic()
    r = invoke(
        "search", "--data", str(tiny_bench / "pool.jsonl"), "--eval", str(tiny_bench / "eval.jsonl"),
        "--strategy", "optuna", "--budget-probes", "6", "--test-seeds", "0", "--ops", "text_length_filter",
        "--steps", "3", "--batch-size", "8", "--train-size", "32", "--optuna-storage", pg_url, "--json", ws=ws,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done", doc
    studies = [s for s in optuna.get_all_study_summaries(storage=pg_url) if s.study_name.startswith(doc["run_id"])]
    assert studies and sum(s.n_trials for s in studies) >= 1
    assert not (ws / "optuna.sqlite").exists()  # nothing went to the default SQLite file
    rep = tmp_path / "report.html"
    r = invoke("report", doc["run_id"], "--out", str(rep), ws=ws)
    assert r.exit_code == 0, r.stderr
    page = rep.read_text()
    shown = pg_url.replace("s3cret", "***")
    assert html.escape(f"optuna-dashboard '{shown}'") in page and "s3cret" not in page
    assert time.monotonic() - t0 < 300
