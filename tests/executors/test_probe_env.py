"""The probe environment: built from a typed config, leaked pool rows dropped (or refused), tasks by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recipelab.config import SearchConfig
from recipelab.executors import InProcessExecutor, LeakageError, ProbeEnv, ProbeEnvConfig, make_executor
from recipelab.trainers.registry import UnknownTaskError
from recipelab.workspace import Workspace
from tests.conftest import make_image, write_rows


@pytest.fixture
def leaky(tmp_path: Path) -> tuple[Path, Path]:
    """A pool of 12 pairs and an eval split of 4 whose first image is byte-identical to pool image 0."""
    pool = [{"id": f"p{i}", "text": f"a red square number {i}", "images": [f"img/p{i}.png"]} for i in range(12)]
    ev = [{"id": f"e{i}", "text": f"a blue square number {i}", "images": [f"img/e{i}.png"]} for i in range(4)]
    for i in range(12):
        make_image(tmp_path / "img" / f"p{i}.png", seed=i)
    for i in range(4):
        make_image(tmp_path / "img" / f"e{i}.png", colour=(20, 30, 200), seed=100 + i)
    shutil.copy(tmp_path / "img" / "p0.png", tmp_path / "img" / "e0.png")
    return write_rows(tmp_path / "pool.jsonl", pool), write_rows(tmp_path / "eval.jsonl", ev)


def _cfg(tmp_path: Path, pool: Path, ev: Path, **kw: object) -> ProbeEnvConfig:
    return ProbeEnvConfig(
        cache_dir=str(tmp_path / "cache"), data=str(pool), eval=str(ev), tokenizer_path=str(tmp_path / "tok.json"), **kw
    )


def test_leaked_pool_rows_are_dropped_and_counted(tmp_path: Path, leaky) -> None:  # noqa: ANN001
    pool, ev = leaky
    env = ProbeEnv.from_config(_cfg(tmp_path, pool, ev), quiet=True)
    assert env.leaks == {"eval": ["p0"]}
    assert "p0" not in env.pool.ids and len(env.pool) == 11
    clean = ProbeEnv.from_config(_cfg(tmp_path, pool, pool), quiet=True)  # pool scored on itself: all leak
    assert len(clean.pool) == 0
    # a pool with rows dropped never shares a fingerprint (and so a stats/probe cache entry) with the full pool
    full = Workspace.open(tmp_path / "ws").read(pool, quiet=True)
    assert env.pool.fingerprint != full.fingerprint


def test_on_leak_fail_refuses_the_pool(tmp_path: Path, leaky) -> None:  # noqa: ANN001
    pool, ev = leaky
    with pytest.raises(LeakageError, match=r"1 pool sample.*byte-identical to a eval image.*p0"):
        ProbeEnv.from_config(_cfg(tmp_path, pool, ev, on_leak="fail"), quiet=True)


def test_unknown_task_names_the_known_ones(tmp_path: Path, leaky) -> None:  # noqa: ANN001
    pool, ev = leaky
    with pytest.raises(UnknownTaskError, match=r"known tasks: (.*, )?clip"):
        ProbeEnv.from_config(_cfg(tmp_path, pool, ev, task="nope"), quiet=True)
    with pytest.raises(ValueError, match=r"known tasks: (.*, )?clip"):
        SearchConfig(data="a", eval="b", task="nope")


def test_config_for_run_carries_every_setting(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    cfg = SearchConfig(
        data="p.jsonl", eval="e.jsonl", test="t.jsonl", on_error="fail", on_leak="fail",
        probe={"image_size": 16, "device": "cpu", "checkpoint": "/m"},
    )  # fmt: skip
    env_cfg = ProbeEnvConfig.for_run(cfg, ws, "r-1")
    assert env_cfg.model_dump() == {
        "cache_dir": str(ws.cache_dir), "data": "p.jsonl", "eval": "e.jsonl", "test": "t.jsonl", "task": "clip",
        "image_size": 16, "checkpoint": "/m", "device": "cpu", "tokenizer_path": str(ws.tokenizer_path("r-1")),
        "on_error": "fail", "on_leak": "fail",
    }  # fmt: skip


def test_make_executor_reuses_the_env_in_process(tmp_path: Path, leaky) -> None:  # noqa: ANN001
    pool, ev = leaky
    env = ProbeEnv.from_config(_cfg(tmp_path, pool, ev), quiet=True)
    ex = make_executor(env, workers=1)
    assert isinstance(ex, InProcessExecutor) and ex.env is env
