"""Adversarial inputs for the differential tests against the real Data-Juicer.

One pool (JSONL + images made here, absolute image paths) holds the cases where two implementations of
the same op drift apart: empty and whitespace-only texts, Data-Juicer's special tokens, unicode that
``str.lower``/``isalnum``/emoji tables treat specially, texts exactly at a threshold, tied stats, exact and
near duplicates, texts shorter than a shingle window; images with several per sample (any/all), the same
path twice, EXIF rotation, transparency, palettes, 1x1 and blank images, aspect ratios exactly at the
bounds, and files padded to exact byte sizes for unit strings ("1KB", "1.5KB", "2KiB").

``param_cases(sizes)`` lists (op, params) cases; boundary values are read from the pool itself (the
measured file sizes) so that they sit exactly on a sample's stat.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

IMG = "<__dj__image>"
EOC = "<|__dj__eoc|>"

TEXTS: list[str] = [
    "",
    " ",
    "   \n\t  ",
    "\n\n",
    f"{IMG}",
    f"{IMG}{EOC}",
    f"{IMG} a cat on a mat {EOC}",
    f"{IMG}{IMG} two dogs in the park, running {EOC}",
    f"{IMG} a dog {EOC} {IMG} another dog {EOC}",
    "a cat on a mat",
    "a cat on a mat",  # exact duplicate
    "A Cat On A Mat",  # duplicate when lower-cased
    "a cat  on a mat ",  # duplicate once stripped? (inner double space: not for md5)
    "héllo wörld 你好 😀 — ça va?",
    "❤️ love ❤️ 👨\u200d👩\u200d👧 family",
    "ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ",
    "İstanbul ǅemal ﬁne",
    "room 101 on floor 3",
    "12345 67890",
    "!!!???...",
    "--- *** --- ###",
    "ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "the cat sat on the mat the cat sat on the mat the cat sat on the mat",
    "line one\nline two\r\nline three\u2028four\x0bfive",
    "\n\nabc\n",
    "the of and to in is it that",
    "the quick brown fox jumps over the lazy dog near the river bank today",
    "the quick brown fox jumps over the lazy dog near the river bank today!",  # near duplicate
    "The quick brown fox jumps over the lazy dog near the river bank, today",
    "what the fuck is this shit, you ass",
    "0123456789",  # exactly 10 chars
    "abcdefghi",  # 9 chars
    "ab!?",  # special ratio 0.5
    "abc!",  # 0.25
    "a!!!",  # 0.75
    "tab\tseparated\twords\there",
    "short one",
    "short two",
    "x",
    "hello, world! (test) [brackets] {braces} «quotes» “curly”",
    "e-mail me at bob@example.com or see https://example.com/a?b=c",
    "\u00a0non\u00a0breaking\u3000space\u200bzero width",
    "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ　１２３",
    "emoji only 😀😀😀🎉🎉",
    "mixed\u00adsoft\u00adhyphen and ­ alone",
]


@dataclass
class Pool:
    """The generated pool: its JSONL path, ids in order, and measured facts used to pick boundary params."""

    jsonl: Path
    ids: list[str]
    sizes: dict[str, int] = field(default_factory=dict)  # image name -> file size in bytes


def _save(img: Image.Image, path: Path, fmt: str = "PNG", pad_to: int | None = None, **kw: Any) -> int:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    data = buf.getvalue()
    if pad_to is not None:
        if len(data) > pad_to:
            raise ValueError(f"{path.name}: {len(data)} bytes already > {pad_to}")
        data += b"\0" * (pad_to - len(data))  # trailing bytes after the end marker: still a valid image
    path.write_bytes(data)
    return len(data)


def _noise(w: int, h: int, seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


def _pattern(w: int, h: int, seed: int) -> Image.Image:
    """A smooth pattern (stable perceptual hash under small changes)."""
    y, x = np.mgrid[0:h, 0:w]
    arr = 127 + 120 * np.sin(x / (3 + seed) + seed) * np.cos(y / (4 + seed))
    rgb = np.stack([arr, arr[::-1], np.roll(arr, seed * 3, axis=1)], axis=-1)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def make_images(folder: Path) -> dict[str, int]:
    """The images of the pool; returns name -> file size."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}

    def put(name: str, img: Image.Image, fmt: str = "PNG", **kw: Any) -> None:
        sizes[name] = _save(img, folder / name, fmt, **kw)

    put("square64.png", _pattern(64, 64, 1))
    put("square64_copy.png", _pattern(64, 64, 1))  # same pixels, another file
    put("square64.jpg", _pattern(64, 64, 1), "JPEG", quality=90)  # near duplicate
    put("wide99x33.png", _pattern(99, 33, 2))  # aspect 3.0 exactly
    put("tall33x99.png", _pattern(33, 99, 2))  # aspect 0.3333
    put("wide100x33.png", _pattern(100, 33, 3))  # aspect 3.03
    put("pixel1x1.png", Image.new("RGB", (1, 1), (255, 255, 255)))
    put("blank32.png", Image.new("RGB", (32, 32), (255, 255, 255)))
    put("blank48.png", Image.new("RGB", (48, 48), (0, 0, 0)))
    put("rgba.png", Image.new("RGBA", (40, 20), (255, 0, 0, 0)))  # fully transparent red
    put("palette.png", _pattern(30, 30, 4).convert("P"))
    put("gray.png", _pattern(50, 25, 5).convert("L"))
    put("noise80x60.png", _noise(80, 60, 6))
    put("noise80x60_b.png", _noise(80, 60, 7))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 120 x 60, displayed 60 x 120
    put("rotated6.jpg", _pattern(120, 60, 8), "JPEG", quality=90, exif=exif.tobytes())
    exif3 = Image.Exif()
    exif3[0x0112] = 3  # upside down: same size
    put("rotated3.jpg", _pattern(120, 60, 8), "JPEG", quality=90, exif=exif3.tobytes())
    # exact byte sizes for unit strings: 1KB = 1024 in Data-Juicer, "1.5KB" is read as 15 KiB
    put("exact1024.png", _pattern(8, 8, 9), pad_to=1024)
    put("exact1025.png", _pattern(8, 8, 10), pad_to=1025)
    put("exact2048.png", _pattern(8, 8, 11), pad_to=2048)
    put("exact15360.png", _noise(40, 40, 12), pad_to=15360)
    put("exact1500.png", _pattern(8, 8, 13), pad_to=1500)
    return sizes


#: Image lists, cycled over the texts (several per sample, repeats, none).
IMAGE_SETS: list[list[str]] = [
    [],
    ["square64.png"],
    ["square64_copy.png"],
    ["square64.jpg"],
    ["wide99x33.png"],
    ["tall33x99.png"],
    ["wide100x33.png"],
    ["pixel1x1.png"],
    ["blank32.png"],
    ["blank48.png"],
    ["rgba.png"],
    ["palette.png"],
    ["gray.png"],
    ["noise80x60.png", "noise80x60_b.png"],
    ["noise80x60.png", "pixel1x1.png"],
    ["pixel1x1.png", "noise80x60.png"],
    ["square64.png", "square64.png"],  # same path twice
    ["square64.png", "wide100x33.png", "tall33x99.png"],
    ["rotated6.jpg"],
    ["rotated3.jpg"],
    ["exact1024.png"],
    ["exact1025.png"],
    ["exact2048.png"],
    ["exact15360.png"],
    ["exact1500.png", "exact1024.png"],
    ["exact1024.png", "exact2048.png"],
    ["noise80x60.png", "noise80x60_b.png"],  # the same pair again: an image duplicate
    [],
]


def make_pool(folder: Path) -> Pool:
    """Write the pool: every text once with a cycled image set, then every image set once with a caption."""
    img_dir = folder / "images"
    sizes = make_images(img_dir)
    rows: list[dict[str, Any]] = []
    for i, text in enumerate(TEXTS):
        imgs = IMAGE_SETS[i % len(IMAGE_SETS)]
        rows.append({"id": f"t{i:03d}", "text": text, "images": [str(img_dir / n) for n in imgs]})
    for j, imgs in enumerate(IMAGE_SETS):
        text = f"{IMG * len(imgs)} caption number {j % 5} {EOC}" if j % 3 else f"caption {j % 4}"
        rows.append({"id": f"i{j:03d}", "text": text, "images": [str(img_dir / n) for n in imgs]})
    jsonl = folder / "pool.jsonl"
    with open(jsonl, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return Pool(jsonl=jsonl, ids=[r["id"] for r in rows], sizes=sizes)


def write_word_lists(folder: Path) -> Path:
    """recipelab's bundled word lists as Data-Juicer JSON assets, so both sides use the same words
    (Data-Juicer would download its own; no network here)."""
    from recipelab.operators.text_kernels import load_words_asset

    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("stopwords", "flagged_words"):
        lists = load_words_asset(kind, None)
        data = {lang: sorted(words) for lang, words in lists.items() if lang != "all"}
        (folder / f"{kind}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def param_cases(pool: Pool, words_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """(op name, params) for every op both libraries have, several parameter cases each."""
    s = pool.sizes
    wd = str(words_dir)
    rng = [{}, {"reversed_range": True}, {"min_closed_interval": False, "max_closed_interval": False}]
    cases: list[tuple[str, dict[str, Any]]] = []

    def add(op: str, *params: dict[str, Any]) -> None:
        cases.extend((op, p) for p in params)

    add("text_length_filter", {}, {"min_len": 10, "max_len": 14}, *({"min_len": 10, "max_len": 30, **r} for r in rng))
    add("text_length_filter", {"min_len": 0, "max_len": 13})  # '<__dj__image>' alone is 13 chars
    add("words_num_filter", {}, {"min_num": 1, "max_num": 4}, {"min_num": 3, "max_num": 3, "reversed_range": True})
    add("word_repetition_filter", {}, {"rep_len": 1, "max_ratio": 0.5}, {"rep_len": 2, "min_ratio": 0.2})
    add("word_repetition_filter", {"rep_len": 3, "min_ratio": 0.0, "max_ratio": 0.0, "max_closed_interval": False})
    add("character_repetition_filter", {}, {"rep_len": 1, "max_ratio": 0.3}, {"rep_len": 3, "min_ratio": 0.1})
    add("character_repetition_filter", {"rep_len": 5, "max_ratio": 0.2, "reversed_range": True})
    add("special_characters_filter", {}, {"min_ratio": 0.25, "max_ratio": 0.5}, {"max_ratio": 0.25, **rng[2]})
    add("special_characters_filter", {"min_ratio": 0.1, "max_ratio": 0.3, "reversed_range": True})
    add("alphanumeric_filter", {}, {"min_ratio": 0.5, "max_ratio": 0.9}, {"min_ratio": 0.75, "reversed_range": True})
    add("average_line_length_filter", {}, {"min_len": 3, "max_len": 20}, {"min_len": 9, **rng[2]})
    add("maximum_line_length_filter", {}, {"min_len": 5, "max_len": 14}, {"min_len": 13, "max_len": 13})
    add(
        "stopwords_filter",
        {"stopwords_dir": wd},
        {"stopwords_dir": wd, "min_ratio": 0.1, "max_ratio": 0.5},
        {"stopwords_dir": wd, "lang": "all", "min_ratio": 0.2},
        {"stopwords_dir": wd, "use_words_aug": True, "words_aug_group_sizes": [2, 3], "words_aug_join_char": ""},
    )
    add(
        "flagged_words_filter",
        {"flagged_words_dir": wd},
        {"flagged_words_dir": wd, "max_ratio": 0.0},
        {"flagged_words_dir": wd, "max_ratio": 0.2, "reversed_range": True},
    )
    add(
        "image_aspect_ratio_filter",
        {},
        {"min_ratio": 0.5, "max_ratio": 2.0, "any_or_all": "all"},
        {"min_ratio": 1 / 3, "max_ratio": 3.0},
        {"min_ratio": 0.333, "max_ratio": 3.0, "any_or_all": "all", **rng[2]},
        {"min_ratio": 0.9, "max_ratio": 1.1, "reversed_range": True},
    )
    add(
        "image_shape_filter",
        {},
        {"min_width": 33, "max_width": 99, "min_height": 33, "max_height": 99},
        {"min_width": 33, "max_width": 99, "any_or_all": "all"},
        {"min_width": 60, "max_width": 60, "min_height": 120},  # the EXIF-rotated photo only
        {"min_width": 2, "min_height": 2, "reversed_range": True},
        {"min_width": 64, "max_height": 64, **rng[2]},
    )
    add(
        "image_size_filter",
        {},
        {"min_size": "1KB", "max_size": "2KB"},
        {"min_size": "1KiB", "max_size": "2kb", "any_or_all": "all"},
        {"min_size": "1.5KB"},  # Data-Juicer reads 15 KiB
        {"min_size": "1025", "max_size": "15360"},
        {"min_size": str(s["square64.png"]), "max_size": "1MB", **rng[2]},
        {"min_size": "1 KB", "max_size": "2048", "reversed_range": True},
    )
    add("document_deduplicator", {}, {"lowercase": True}, {"ignore_non_character": True, "lowercase": True})
    add(
        "document_simhash_deduplicator",
        {},
        {"window_size": 2, "hamming_distance": 3},
        {"tokenization": "character", "window_size": 4},
        {"tokenization": "punctuation", "window_size": 2, "lowercase": False},
    )
    add(
        "document_minhash_deduplicator",
        {},
        {"window_size": 2, "jaccard_threshold": 0.5},
        {"tokenization": "character", "window_size": 4, "num_permutations": 64},
        {"tokenization": "punctuation", "window_size": 1, "num_bands": 8, "num_rows_per_band": 4},
    )
    add(
        "image_deduplicator",
        {},
        {"consider_text": True},
        {"method": "dhash"},
        {"method": "ahash"},
        {"method": "whash"},
    )
    return cases


def case_id(i: int, op: str, params: dict[str, Any]) -> str:
    shown = ",".join(f"{k}={v}" for k, v in params.items()) if params else "defaults"
    return f"{i:02d}-{op}({shown})"
