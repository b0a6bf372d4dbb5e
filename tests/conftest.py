"""Shared fixtures: tiny datasets made by the tests themselves (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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
