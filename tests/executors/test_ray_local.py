"""The Ray paths on a real local Ray instance (``ray.init(num_cpus=2)``): stats as Ray Data map_batches equal
to the local path (same values, same cache keys), a small search run to the end with ``--executor ray``,
and a probe whose worker is killed twice coming back failed with both reasons (once: retried)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from recipelab.data.reader import read_dataset  # noqa: E402
from recipelab.executors import ProbeEnvConfig, ProbeJob  # noqa: E402
from recipelab.executors.ray_executor import RayExecutor  # noqa: E402
from recipelab.executors.ray_stats import compute_pipeline_stats_ray, whole_pool_reason  # noqa: E402
from recipelab.memory import Memory  # noqa: E402
from recipelab.operators.base import Deduplicator  # noqa: E402
from recipelab.operators.registry import all_ops, create_op  # noqa: E402
from recipelab.operators.stats import StatsCache, compute_pipeline_stats  # noqa: E402
from recipelab.trainers.base import ProbeSpec  # noqa: E402
from recipelab.workspace import Workspace  # noqa: E402
from tests.cli._cli import invoke  # noqa: E402

pytestmark = pytest.mark.slow

#: The smallest search probe that still trains and evaluates.
TINY = ["--steps", "3", "--batch-size", "8", "--train-size", "32"]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def test_ray_data_stats_equal_the_local_path(local_ray: None, tiny_bench: Path, tmp_path: Path) -> None:
    full = read_dataset(tiny_bench / "pool.jsonl", quiet=True)
    samples, fp = full.samples[:240], full.fingerprint + ":first-240"  # small: every op runs twice
    names = [n for n, c in all_ops().items() if c.kind != "mapper"]
    # every filter and deduplicator, then a mapper and ops after it (their keys include the mapper chain)
    pipeline = [*names, "whitespace_normalization_mapper", "text_length_filter", "document_deduplicator"]
    local_cache, ray_cache = StatsCache(tmp_path / "local"), StatsCache(tmp_path / "ray")
    local = compute_pipeline_stats([create_op(n) for n in pipeline], samples, fp, local_cache)
    remote = compute_pipeline_stats_ray([create_op(n) for n in pipeline], samples, fp, ray_cache)
    assert ray.is_initialized()  # the fixture's connection is used and left open
    for name, lo, ro in zip(pipeline, local, remote, strict=True):
        if lo is None:
            assert ro is None
            continue
        assert ro is not None and list(lo) == list(ro), name
        for key in lo:
            assert _same(lo[key].values, ro[key].values), f"{name}: {key} values differ"
            assert (lo[key].offsets is None) == (ro[key].offsets is None), name
            if lo[key].offsets is not None:
                assert _same(lo[key].offsets, ro[key].offsets), f"{name}: {key} offsets differ"
    # the same cache keys: the files are the same, and a local run after the Ray one computes nothing
    assert sorted(p.name for p in (tmp_path / "local" / "stats").iterdir()) == sorted(
        p.name for p in (tmp_path / "ray" / "stats").iterdir()
    )
    again = StatsCache(tmp_path / "ray")
    compute_pipeline_stats([create_op(n) for n in pipeline], samples, fp, again)
    assert again.misses == 0 and again.hits == len(pipeline) - 1
    assert all(whole_pool_reason(create_op(n)) for n in names if isinstance(create_op(n), Deduplicator))


def test_search_with_ray_executor_runs_to_the_end(local_ray: None, tiny_bench: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = invoke(
        "search", "--data", str(tiny_bench / "pool.jsonl"), "--eval", str(tiny_bench / "eval.jsonl"),
        "--executor", "ray", "--workers", "2", "--budget-probes", "2", "--test-seeds", "0",
        "--ops", "text_length_filter", *TINY, "--json", ws=ws,
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done"
    mem = Memory(Workspace.open(ws).memory_path)
    run = mem.get_run(doc["run_id"])
    assert run is not None and run["config"]["executor"] == "ray"  # persisted: --resume uses Ray again
    exps = mem.experiments(doc["run_id"])
    assert len([e for e in exps if e["status"] == "done"]) == 2
    assert {e["result"]["device"] for e in exps if e["status"] == "done"} == {"cpu"}
    msgs = [e["message"] for e in mem.events(doc["run_id"])]
    assert any(m.startswith("stats on Ray Data: 1 op(s) computed") for m in msgs), msgs
    assert ray.is_initialized()  # the executor left the connection it did not open


def test_probe_whose_worker_dies_twice_fails_with_both_reasons(
    local_ray: None, tiny_bench: Path, tmp_path: Path
) -> None:
    cfg = ProbeEnvConfig(
        cache_dir=str(tmp_path / "cache"),
        data=str(tiny_bench / "pool.jsonl"),
        eval=str(tiny_bench / "eval.jsonl"),
        tokenizer_path=str(tmp_path / "tok.json"),
    )
    heard: list[str] = []
    ex = RayExecutor(cfg, workers=1, on_retry=lambda job, why: heard.append(f"{job.key}: {why}"))
    killed: list[int] = []

    def killer() -> None:  # each probe takes seconds (environment, then training): kill its worker under it
        for _ in range(2):
            end = time.monotonic() + 60
            while time.monotonic() < end:
                pids = [p for p in ex.worker_pids() if p not in killed]
                if pids:
                    break
                time.sleep(0.2)
            time.sleep(1.0)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    t = threading.Thread(target=killer, daemon=True)
    try:
        ex.worker_pids()  # the actor is up before its probe is sent
        t.start()
        spec = ProbeSpec(train_size=32, steps=200, batch_size=8, image_size=16)
        outs = list(ex.run([ProbeJob(key=7, spec=spec)]))
    finally:
        t.join(timeout=60)
        ex.close()
    assert len(killed) == 2
    assert len(outs) == 1 and outs[0].result is None
    err = outs[0].error or ""
    assert "died twice" in err and "retried once" in err and err.count("ActorDiedError") + err.count("Error") >= 2
    assert len(outs[0].retries) == 2 and len(ex.retries) == 1 and heard and heard[0].startswith("7: ")
