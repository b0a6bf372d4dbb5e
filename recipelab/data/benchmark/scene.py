"""Scenes of flat coloured shapes: the attribute vocabulary, scene models and the renderer.

Everything a 32x32 CLIP can see: shape, colour, size (small/large), position, count and background.
Rendering is pure numpy/PIL and deterministic given a seed, so a render job can run in any process.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon")
SHAPE_PLURALS: dict[str, str] = {
    "circle": "circles",
    "square": "squares",
    "triangle": "triangles",
    "star": "stars",
    "cross": "crosses",
    "ring": "rings",
    "diamond": "diamonds",
    "hexagon": "hexagons",
}
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 40),
    "green": (40, 170, 60),
    "cyan": (40, 200, 210),
    "blue": (40, 70, 220),
    "purple": (150, 60, 190),
    "pink": (245, 140, 190),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "grey": (128, 128, 128),
    "beige": (225, 210, 175),
    "navy": (25, 30, 80),
    "brown": (110, 70, 40),
    "black": (12, 12, 12),
}
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "center")
COUNTS: tuple[int, ...] = (1, 2, 3)

#: attribute -> values, as they appear in the `labels` field of eval/test rows (all strings)
ATTRIBUTES: dict[str, list[str]] = {
    "shape": list(SHAPES),
    "colour": list(COLOURS),
    "size": list(SIZES),
    "position": list(POSITIONS),
    "count": [str(c) for c in COUNTS],
    "background": list(BACKGROUNDS),
}

_PNG_LEVEL = 3  # zlib level: fast, and still a file size that tells blank and tiny images apart
_MIN_CONTRAST = 100.0  # Euclidean RGB distance between a shape colour and its background
_RADIUS = {"small": 0.10, "large": 0.155}  # fraction of the canvas side
_ROW = {1: (0.5,), 2: (0.32, 0.68), 3: (0.2, 0.5, 0.8)}


def contrast_ok(colour: str, background: str) -> bool:
    a = np.array(COLOURS[colour], dtype=float)
    b = np.array(BACKGROUNDS[background], dtype=float)
    return float(np.linalg.norm(a - b)) >= _MIN_CONTRAST


_COLOURS_FOR: dict[str, list[str]] = {}


def colours_for(background: str) -> list[str]:
    """Shape colours that stand out on `background`."""
    if background not in _COLOURS_FOR:
        _COLOURS_FOR[background] = [c for c in COLOURS if contrast_ok(c, background)]
    return _COLOURS_FOR[background]


def pick(rng: np.random.Generator, seq):
    """rng.choice for a small sequence, without the array round trip (and returning the item itself)."""
    return seq[int(rng.integers(len(seq)))]


_BG_NAMES = tuple(BACKGROUNDS)


@dataclass(frozen=True, slots=True)
class Group:
    """`count` identical shapes at one position."""

    shape: str
    colour: str
    size: str
    count: int
    position: str


@dataclass(frozen=True, slots=True)
class Scene:
    background: str
    groups: tuple[Group, ...]

    def labels(self) -> dict[str, str]:
        """Attribute labels of a one-group scene (eval/test rows)."""
        g = self.groups[0]
        return {
            "shape": g.shape,
            "colour": g.colour,
            "size": g.size,
            "count": str(g.count),
            "position": g.position,
            "background": self.background,
        }


def all_simple_scenes() -> list[Scene]:
    """Every one-group scene allowed by the contrast rule (about 11k)."""
    out = []
    for bg in BACKGROUNDS:
        for col in colours_for(bg):
            for shp in SHAPES:
                for size in SIZES:
                    for pos in POSITIONS:
                        for n in COUNTS:
                            out.append(Scene(bg, (Group(shp, col, size, n, pos),)))
    return out


def random_simple_scene(rng: np.random.Generator) -> Scene:
    bg = pick(rng, _BG_NAMES)
    g = Group(
        shape=pick(rng, SHAPES),
        colour=pick(rng, colours_for(bg)),
        size=pick(rng, SIZES),
        count=pick(rng, COUNTS),
        position=pick(rng, POSITIONS),
    )
    return Scene(bg, (g,))


def random_busy_scene(rng: np.random.Generator) -> Scene:
    """Three groups of different shapes and colours along one axis (a careless-filter trap)."""
    bg = pick(rng, _BG_NAMES)
    axis = ("left", "center", "right") if rng.random() < 0.5 else ("top", "center", "bottom")
    shapes = rng.choice(SHAPES, size=3, replace=False)
    cols = rng.choice(colours_for(bg), size=3, replace=False)
    groups = []
    for pos, shp, col in zip(axis, shapes, cols, strict=True):
        n = 1 if pos == "center" else int(rng.integers(1, 3))
        groups.append(Group(str(shp), str(col), pick(rng, SIZES), n, pos))
    return Scene(bg, tuple(groups))


def _centres(position: str, count: int) -> list[tuple[float, float]]:
    row = _ROW[count]
    if position == "left":
        return [(0.25, y) for y in row]
    if position == "right":
        return [(0.75, y) for y in row]
    if position == "top":
        return [(x, 0.25) for x in row]
    if position == "bottom":
        return [(x, 0.75) for x in row]
    return [(x, 0.5) for x in row]


def _polygon(cx: float, cy: float, r: float, n: int, start_deg: float, inner: float | None = None):
    pts = []
    k = 2 * n if inner is not None else n
    for i in range(k):
        rr = r if inner is None or i % 2 == 0 else r * inner
        a = math.radians(start_deg + 360.0 * i / k)
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        s = r * 0.85
        draw.rectangle((cx - s, cy - s, cx + s, cy + s), fill=fill)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy + r * 0.15, r * 1.1, 3, -90.0), fill=fill)
    elif shape == "star":
        draw.polygon(_polygon(cx, cy, r * 1.1, 5, -90.0, inner=0.42), fill=fill)
    elif shape == "cross":
        w = r * 0.34
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
    elif shape == "ring":
        width = max(2, int(round(r * 0.38)))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=width)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r * 1.1), (cx + r * 0.8, cy), (cx, cy + r * 1.1), (cx - r * 0.8, cy)], fill=fill)
    elif shape == "hexagon":
        draw.polygon(_polygon(cx, cy, r, 6, 0.0), fill=fill)
    else:  # pragma: no cover - guarded by the vocabulary
        raise ValueError(f"unknown shape {shape!r}")


def render_scene(scene: Scene, side: int, rnd: random.Random) -> Image.Image:
    """Draw `scene` on a `side` x `side` canvas: a softly graded background and hard-edged shapes."""
    base = BACKGROUNDS[scene.background]
    amp = rnd.uniform(6.0, 20.0)
    ang = rnd.uniform(0.0, 2 * math.pi)
    c, s = math.cos(ang), math.sin(ang)
    corners = bytearray()
    for ty in (-1.0, 1.0):
        for tx in (-1.0, 1.0):
            d = amp * (c * tx + s * ty)
            corners += bytes(min(255, max(0, int(round(v + d)))) for v in base)
    # a 2x2 image upscaled bilinearly is a smooth gradient (flat near the borders), cheap to make
    img = Image.frombytes("RGB", (2, 2), bytes(corners)).resize((side, side), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    for g in scene.groups:
        r = _RADIUS[g.size] * side * rnd.uniform(0.92, 1.08)
        gx, gy = rnd.uniform(-0.035, 0.035), rnd.uniform(-0.035, 0.035)
        for x, y in _centres(g.position, g.count):
            jx, jy = rnd.uniform(-0.015, 0.015), rnd.uniform(-0.015, 0.015)
            draw_shape(draw, g.shape, (x + gx + jx) * side, (y + gy + jy) * side, r, COLOURS[g.colour])
    return img


# ----------------------------------------------------------------------------------------------------------
# Render jobs (picklable, run in worker processes)


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One PNG to write. `op` post-processes the rendered scene (a corruption, or nothing)."""

    path: str
    scene: Scene
    side: int
    seed: int
    op: str = "none"  # none | downup | gauss | resize | blank | noise
    args: tuple = field(default=())
    noise_seed: int = 0


def apply_op(img: Image.Image, job: RenderJob) -> Image.Image:
    op, a = job.op, job.args
    if op == "none":
        return img
    if op == "downup":  # low-res then upscaled back: strong blur
        k = int(a[0])
        small = img.resize((k, k), Image.Resampling.BILINEAR)
        return small.resize(img.size, Image.Resampling.BILINEAR)
    if op == "gauss":
        return img.filter(ImageFilter.GaussianBlur(radius=float(a[0])))
    if op == "resize":  # extreme aspect ratio or tiny image
        return img.resize((int(a[0]), int(a[1])), Image.Resampling.BILINEAR)
    if op == "blank":  # (r, g, b, noise amplitude)
        rng = np.random.default_rng(job.noise_seed)
        arr = np.empty((img.height, img.width, 3), dtype=np.int16)
        arr[:] = np.array(a[:3], dtype=np.int16)
        amp = int(a[3])
        if amp:
            arr += rng.integers(-amp, amp + 1, size=arr.shape, dtype=np.int16)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if op == "noise":  # near-duplicate: a few pixels nudged by a few levels
        rng = np.random.default_rng(job.noise_seed)
        arr = np.asarray(img, dtype=np.int16).copy()
        n = int(a[0])
        ys = rng.integers(0, img.height, size=n)
        xs = rng.integers(0, img.width, size=n)
        arr[ys, xs] += rng.integers(-3, 4, size=(n, 3), dtype=np.int16)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    raise ValueError(f"unknown op {op!r}")


def render_bytes(job: RenderJob) -> bytes:
    img = render_scene(job.scene, job.side, random.Random(job.seed))
    img = apply_op(img, job)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=_PNG_LEVEL)
    return buf.getvalue()


def run_job(job: RenderJob) -> str:
    """Render, write the PNG and return its sha1 (used to keep eval/test apart from the pool)."""
    data = render_bytes(job)
    Path(job.path).write_bytes(data)
    return hashlib.sha1(data).hexdigest()


def run_jobs(jobs: list[RenderJob]) -> list[str]:
    return [run_job(j) for j in jobs]
