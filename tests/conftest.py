"""Shared fixtures: tiny datasets made by the tests themselves (no downloads), the tiny built-in
benchmark, and a cheap synthetic objective in place of training.

The synthetic environment scores a probe by the clean share of its seeded training draw (from the
benchmark's truth) plus seed noise, with the same interface as the real `ProbeEnv`. It lets the
planner logic be tested over many probes in seconds; the real trainer is tested in tests/trainers and
end to end in tests/agent/test_processes.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recipelab.agent.loop import SearchLoop
from recipelab.config import SearchConfig
from recipelab.data.benchmark import load_truth, make_benchmark
from recipelab.data.reader import read_dataset
from recipelab.executors import InProcessExecutor
from recipelab.memory import Memory
from recipelab.trainers.base import ProbeResult, ProbeSpec
from recipelab.workspace import Workspace

#: Ops whose stats need no model (no proxy CLIP): cheap enough for many synthetic searches.
SYNTHETIC_OPS = [
    "text_length_filter",
    "words_num_filter",
    "word_repetition_filter",
    "special_characters_filter",
    "alphanumeric_filter",
    "stopwords_filter",
    "image_aspect_ratio_filter",
    "image_shape_filter",
    "image_entropy_filter",
    "image_sharpness_filter",
    "image_deduplicator",
    "document_deduplicator",
]


def make_image(
    path: Path, size: tuple[int, int] = (32, 32), colour: tuple[int, int, int] = (200, 30, 30), seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    arr = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    arr[:] = colour
    arr += rng.integers(0, 20, size=arr.shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def write_rows(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """8 rows: a mix of caption lengths, one duplicate text, one wide image."""
    rows = []
    texts = [
        "a red circle on a white background",
        "a blue square",
        "two green triangles on the left",
        "a red circle on a white background",
        "!!!@@@### $$$",
        "yellow star",
        "a small purple cross at the bottom of a grey background",
        "ok",
    ]
    for i, t in enumerate(texts):
        size = (96, 16) if i == 5 else (32, 32)
        make_image(tmp_path / "img" / f"{i}.png", size=size, seed=i)
        rows.append({"id": f"s{i}", "text": t, "images": [f"img/{i}.png"], "meta": {"k": i}})
    return write_rows(tmp_path / "data.jsonl", rows)


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    make_benchmark(out, size=600, n_eval=80, n_test=80, seed=3)
    return out


class SyntheticEnv:
    def __init__(self, bench: Path, noise: float = 0.02) -> None:
        self.pool = read_dataset(bench / "pool.jsonl", quiet=True)
        self.splits = {
            "eval": read_dataset(bench / "eval.jsonl", quiet=True),
            "test": read_dataset(bench / "test.jsonl", quiet=True),
        }
        truth = load_truth(bench / "truth.jsonl")
        self.clean = {i for i, lab in truth.items() if lab == "clean"}
        self.noise = noise
        self.calls = 0
        self.leaks: dict[str, list[str]] = {}

    def clean_share(self, ids: list[str]) -> float:
        return float(np.mean([i in self.clean for i in ids])) if ids else 0.0

    def run(self, spec: ProbeSpec, split: str = "eval") -> ProbeResult:
        self.calls += 1
        ids = list(spec.train_ids)
        size = spec.train_size or len(ids)
        rng = np.random.default_rng([spec.seed, 1])
        draw = list(rng.choice(ids, size=min(size, len(ids)), replace=False)) if ids else []
        m = self.clean_share(draw) * min(1.0, len(draw) / size) + np.random.default_rng([spec.seed, 2]).normal(
            0, self.noise
        )
        return ProbeResult(
            metrics={"mean_recall": float(m)},
            primary_metric="mean_recall",
            train_size=len(draw),
            requested_train_size=size,
            undersized=len(draw) < size,
            wall_time_s=0.0,
            train_time_s=0.0,
            eval_time_s=0.0,
            device="synthetic",
            versions={},
            seed=spec.seed,
        )


@pytest.fixture
def synthetic_env(tiny_bench: Path) -> SyntheticEnv:
    return SyntheticEnv(tiny_bench)


def make_synthetic_loop(root: Path, bench: Path, env: object | None = None, **cfg: object) -> SearchLoop:
    """A search loop over the tiny benchmark whose probes are scored by a synthetic env (no training).

    ``cfg`` overrides `SearchConfig` fields (defaults: SYNTHETIC_OPS, the bench's eval and test splits).
    """
    ws = Workspace.open(root / "ws")
    mem = Memory(ws.memory_path)
    fields: dict = {
        "data": str(bench / "pool.jsonl"),
        "eval": str(bench / "eval.jsonl"),
        "test": str(bench / "test.jsonl"),
        "ops": SYNTHETIC_OPS,
        **cfg,
    }
    env = env if env is not None else SyntheticEnv(bench)
    return SearchLoop.create(ws, mem, SearchConfig(**fields), env=env, executor=InProcessExecutor(env), quiet=True)


@pytest.fixture
def synthetic_loop(tmp_path: Path, tiny_bench: Path, synthetic_env: SyntheticEnv):  # noqa: ANN201
    """Factory: ``synthetic_loop(budget_probes=10, ...)`` -> a `SearchLoop` on the synthetic env."""

    def make(**cfg: object) -> SearchLoop:
        return make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, **cfg)

    return make
