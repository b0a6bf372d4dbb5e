"""Fixtures of the CLI tests: a tiny pool/eval pair that a real probe trains on in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_image, write_rows

COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 220), (230, 220, 40)]
NAMES = ["red", "green", "blue", "yellow"]


@pytest.fixture
def probe_data(tmp_path: Path) -> tuple[Path, Path]:
    """96 pool rows and 24 labelled eval rows of coloured squares (pool.jsonl, eval.jsonl under tmp_path)."""
    pool, ev = [], []
    for i in range(96):
        c = i % 4
        make_image(tmp_path / "img" / f"p{i}.png", colour=COLOURS[c], seed=i)
        pool.append({"id": f"p{i}", "text": f"a {NAMES[c]} square number {i % 7}", "images": [f"img/p{i}.png"]})
    for i in range(24):
        c = i % 4
        make_image(tmp_path / "img" / f"e{i}.png", colour=COLOURS[c], seed=1000 + i)
        ev.append(
            {"id": f"e{i}", "text": f"a {NAMES[c]} square", "images": [f"img/e{i}.png"], "labels": {"colour": NAMES[c]}}
        )
    return write_rows(tmp_path / "pool.jsonl", pool), write_rows(tmp_path / "eval.jsonl", ev)


@pytest.fixture
def recipe(tmp_path: Path):  # noqa: ANN201
    """Factory: ``recipe("process: []\\n")`` -> the path of a recipe file with that YAML."""

    def make(text: str, name: str = "r.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return make
