"""Captions: many templates for clean scenes, long ones for busy scenes, and the text corruptions."""

from __future__ import annotations

import re
import string

import numpy as np

from recipelab.data.benchmark.scene import SHAPE_PLURALS, Group, Scene, pick

_NUM = {1: "one", 2: "two", 3: "three"}
_COUNT_PHRASES = {1: ("a", "one", "a single"), 2: ("two", "a pair of", "two"), 3: ("three", "three")}
_POS_PHRASES = {
    "left": ("on the left", "on the left side", "at the left"),
    "right": ("on the right", "on the right side", "at the right"),
    "top": ("at the top", "in the upper part", "near the top"),
    "bottom": ("at the bottom", "in the lower part", "near the bottom"),
    "center": ("in the center", "in the middle", "at the centre"),
}

# fields: n (count phrase), N (count word), size, col, shp (singular/plural), pos, bg, be, pron
_TEMPLATES: tuple[str, ...] = (
    "a photo of {n} {size} {col} {shp} {pos} on a {bg} background",
    "{n} {size} {col} {shp} {pos}, {bg} background",
    "{col} {shp}, {N} of them, {size}, {pos}, {bg} backdrop",
    "an image of {n} {col} {shp} ({size}) {pos} against a {bg} background",
    "{bg} background with {n} {size} {col} {shp} {pos}",
    "{N} {col} {shp} {pos}. {pron} {size}. the background is {bg}.",
    "there {be} {n} {size} {col} {shp} {pos} of the picture, on {bg}",
    "{size} {col} {shp}, count {N}, {pos}, on {bg}",
    "picture: {bg} backdrop, {n} {col} {shp} {pos}, {size}",
    "{n} {col} {shp} {pos} over a plain {bg} background, {size} size",
    "simple drawing of {n} {size} {col} {shp} {pos}",
    "{col} {shp} {pos} on {bg}, {N} in total, {size} size",
    "a {bg} canvas showing {n} {size} {col} {shp} {pos}",
    "{n} {size} {shp} in {col} {pos} of a {bg} image",
    "close-up of {n} {size} {col} {shp} placed {pos} on a {bg} surface",
    "{N} {size} {shp}, colour {col}, {pos}, background {bg}",
)

_BUSY_TAILS: tuple[str, ...] = (
    "all of the shapes are flat, sharp and brightly coloured, with clear edges against the plain {bg} backdrop",
    "the composition is balanced, every shape is drawn with crisp outlines and a solid {bg} colour fills the rest",
    "nothing else is in the picture; the shapes do not touch and the {bg} background has a soft gradient",
    "a clean, detailed illustration in which each group of shapes keeps its own colour, size and place",
)

BOILERPLATE_LINES: tuple[str, ...] = (
    "Copyright (c) 2019 All rights reserved. Unauthorized reproduction or distribution is prohibited.",
    "BUY NOW and get free shipping on all orders over $50! Limited time offer, terms and conditions apply.",
    "Click here to subscribe to our newsletter for exclusive deals, discounts and seasonal promotions.",
    "This image is provided as is, without warranty of any kind, express or implied, including fitness.",
    "Stock photo ID 48213-XZ. Royalty free license available for commercial and editorial use worldwide.",
    "Follow us on social media for daily inspiration, giveaways and behind the scenes content every week.",
    "Privacy notice: we use cookies to improve your browsing experience and to show personalised ads.",
    "Download the full resolution version with a premium membership. Cancel anytime, no questions asked.",
    "Best price guaranteed! Compare with other sellers and we will match any lower advertised price.",
    "For licensing enquiries please contact our sales team; bulk discounts are available for agencies.",
    "Disclaimer: colours may vary depending on your monitor settings. Product shown for illustration only.",
    "Sponsored content. Prices in USD, taxes not included. Offer valid while stocks last, see store.",
)

_SPECIAL = "@#$%^&*~+=<>|{}[]!?/\\"


def _fix_articles(text: str) -> str:
    return re.sub(r"\ba ([aeiou])", r"an \1", text)


def _group_fields(g: Group, rng: np.random.Generator) -> dict[str, str]:
    return {
        "n": pick(rng, _COUNT_PHRASES[g.count]),
        "N": _NUM[g.count],
        "size": g.size,
        "col": g.colour,
        "shp": g.shape if g.count == 1 else SHAPE_PLURALS[g.shape],
        "pos": pick(rng, _POS_PHRASES[g.position]),
        "be": "is" if g.count == 1 else "are",
        "pron": "it is" if g.count == 1 else "they are",
    }


def simple_caption(scene: Scene, rng: np.random.Generator, template: int | None = None) -> str:
    """A clean caption of a one-group scene from one of the templates."""
    t = _TEMPLATES[int(rng.integers(len(_TEMPLATES))) if template is None else template]
    return _fix_articles(t.format(bg=scene.background, **_group_fields(scene.groups[0], rng)))


def group_phrase(g: Group, rng: np.random.Generator) -> str:
    f = _group_fields(g, rng)
    return _fix_articles(f"{f['n']} {f['size']} {f['col']} {f['shp']} {f['pos']}")


_TERSE_TEMPLATES: tuple[str, ...] = (
    "{N} {col} {shp}",
    "{size} {col} {shp}",
    "{col} {shp} on {bg}",
    "{N} {size} {col} {shp}",
)


def terse_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A correct but short caption (3-4 words, some attributes left out): a careless-filter trap.

    It sits between the 1-2 word `short_caption` noise and the 5+ word clean captions, so a minimum
    text length that removes the noise without touching these has to be chosen with care.
    """
    t = _TERSE_TEMPLATES[int(rng.integers(len(_TERSE_TEMPLATES)))]
    return _fix_articles(t.format(bg=scene.background, **_group_fields(scene.groups[0], rng)))


def busy_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A long, detailed and correct caption of a multi-group scene (a careless-filter trap)."""
    parts = [group_phrase(g, rng) for g in scene.groups]
    order = rng.permutation(len(parts))
    parts = [parts[i] for i in order]
    listing = ", ".join(parts[:-1]) + ", and " + parts[-1]
    head = str(rng.choice(("a busy scene on a {bg} background: ", "a detailed picture with a {bg} background: ")))
    tail = str(rng.choice(_BUSY_TAILS))
    return _fix_articles(head.format(bg=scene.background) + listing + "; " + tail.format(bg=scene.background))


# ----------------------------------------------------------------------------------------------------------
# Text corruptions (each keyed by the family name it produces)


def _key_words(scene: Scene) -> list[str]:
    g = scene.groups[0]
    return [g.colour, SHAPE_PLURALS[g.shape] if g.count > 1 else g.shape, _NUM[g.count], g.position]


def repetitive_caption(scene: Scene, rng: np.random.Generator) -> str:
    words = _key_words(scene)
    if rng.random() < 0.5:  # "red red red red circles circles circles ..."
        k = int(rng.integers(2, 5))
        out: list[str] = []
        for w in words[:k]:
            out += [w] * int(rng.integers(4, 8))
        return " ".join(out)
    # a short phrase looped: "red circles left red circles left ..."
    k = int(rng.integers(2, 4))
    phrase = words[:k]
    reps = int(rng.integers(6, 10))
    return " ".join(phrase * reps)


def special_char_spam(caption: str, rng: np.random.Generator) -> str:
    def run() -> str:
        return "".join(rng.choice(list(_SPECIAL), size=int(rng.integers(2, 6))))

    words = caption.split()
    if len(words) > 6:
        words = words[:6]
    pieces = [run()]
    for w in words:
        pieces += [w, run()]
    return " ".join(pieces)


def short_caption(scene: Scene, rng: np.random.Generator) -> str:
    g = scene.groups[0]
    options = (g.colour, g.shape, _NUM[g.count], f"{g.colour} {g.shape}", g.position)
    return str(rng.choice(options))


def boilerplate_caption(caption: str, rng: np.random.Generator, lines: tuple[int, int] = (3, 6)) -> str:
    """The true caption followed by `lines[0]`..`lines[1]` distinct ad/legal lines (one per line)."""
    k = int(rng.integers(lines[0], lines[1] + 1))
    idx = rng.choice(len(BOILERPLATE_LINES), size=k, replace=False)
    return caption + "\n" + "\n".join(BOILERPLATE_LINES[i] for i in idx)


def gibberish_caption(rng: np.random.Generator) -> str:
    letters = list(string.ascii_lowercase)
    n = int(rng.integers(4, 11))
    return " ".join("".join(rng.choice(letters, size=int(rng.integers(2, 10)))) for _ in range(n))
