"""A tiny glyph dataset made in tmp_path: coloured shapes with captions like "a red square"."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recipelab.data.sample import Sample
from recipelab.trainers import ProbeTokenizer

COLOURS = {"red": (220, 30, 30), "green": (30, 170, 40), "blue": (30, 60, 220), "yellow": (235, 210, 20)}
SHAPES = ("circle", "square", "triangle")


def make_glyphs(folder, n: int, seed: int, prefix: str = "g", size: int = 32) -> list[Sample]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        colour, shape = str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES))
        im = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(200, 256, 3)))
        d = ImageDraw.Draw(im)
        r = size // 4 + int(rng.integers(-2, 3))
        c = size // 2 + int(rng.integers(-3, 4))
        box = (c - r, c - r, c + r, c + r)
        if shape == "circle":
            d.ellipse(box, fill=COLOURS[colour])
        elif shape == "square":
            d.rectangle(box, fill=COLOURS[colour])
        else:
            d.polygon([(c, c - r), (c - r, c + r), (c + r, c + r)], fill=COLOURS[colour])
        path = folder / f"{prefix}{i:04d}.png"
        im.save(path)
        out.append(
            Sample(
                id=f"{prefix}{i}",
                text=f"a {colour} {shape}",
                images=[str(path)],
                extra={"labels": {"shape": shape, "colour": colour}},
            )
        )
    return out


@pytest.fixture(scope="session")
def glyphs(tmp_path_factory):
    root = tmp_path_factory.mktemp("glyphs")
    train = make_glyphs(root / "train", 200, seed=0, prefix="t")
    evals = make_glyphs(root / "eval", 60, seed=1, prefix="e")
    return root, train, evals


@pytest.fixture(scope="session")
def tokenizer(glyphs):
    _, train, _ = glyphs
    return ProbeTokenizer.build((s.plain_text() for s in train), max_len=8)
