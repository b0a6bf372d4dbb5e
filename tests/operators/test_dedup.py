"""Deduplicators: group labels (label = index of the group's first member)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from recipelab.data.sample import IMAGE_TOKEN, Sample
from recipelab.operators.base import Deduplicator
from recipelab.operators.dedup import hash_images, labels_from_signatures, near_duplicate_pairs
from recipelab.operators.registry import get_op_class

DEDUPS = {
    "document_deduplicator": (
        "__dj__hash",
        {"lowercase": False, "ignore_non_character": False, "strip_special_tokens": False},
    ),
    "document_simhash_deduplicator": (
        "__dj__simhash",
        {
            "tokenization": "space",
            "window_size": 6,
            "lowercase": True,
            "ignore_pattern": None,
            "num_blocks": 6,
            "hamming_distance": 4,
            "strip_special_tokens": False,
            "short_text_shingle": False,
        },
    ),
    "document_minhash_deduplicator": (
        "__dj__minhash",
        {
            "tokenization": "space",
            "window_size": 5,
            "lowercase": True,
            "ignore_pattern": None,
            "num_permutations": 256,
            "jaccard_threshold": 0.7,
            "num_bands": None,
            "num_rows_per_band": None,
            "short_text_shingle": False,
        },
    ),
    "image_deduplicator": ("__dj__imagehash", {"method": "phash", "consider_text": False, "hash_distance": 0}),
}

LONG = (
    "the quick brown fox jumps over the lazy dog while the old cat sleeps on a warm mat near the "
    "kitchen window in the late afternoon sun and the children play outside in the garden with a ball"
)


def S(*texts: str, images: list[list[str]] | None = None) -> list[Sample]:
    images = images or [[] for _ in texts]
    return [Sample(id=str(i), text=t, images=im) for i, (t, im) in enumerate(zip(texts, images, strict=True))]


def groups(name: str, samples: list[Sample], params: dict | None = None) -> list[int]:
    labels = get_op_class(name)(params or {}).compute_groups(samples)
    assert labels.dtype == np.int64 and labels.shape == (len(samples),)
    return labels.tolist()


@pytest.mark.parametrize("name", sorted(DEDUPS))
def test_registered_defaults_hash_key_stat_params(name: str) -> None:
    cls = get_op_class(name)
    assert issubclass(cls, Deduplicator) and cls.name == name
    key, defaults = DEDUPS[name]
    assert cls.hash_key == key
    dumped = cls().params.model_dump()
    for k, v in defaults.items():
        assert dumped[k] == v, (name, k)
    assert set(cls.stat_params) == set(dumped)  # every param changes the groups


@pytest.mark.parametrize("name", sorted(DEDUPS))
def test_empty_pool_and_distinct_texts(name: str) -> None:
    assert groups(name, []) == []
    texts = S("a cat", "a dog", "", LONG)
    if name in ("document_simhash_deduplicator", "document_minhash_deduplicator"):
        # Data-Juicer: texts shorter than one shingle window share one hash (matched on purpose)
        assert groups(name, texts) == [0, 0, 0, 3]
        assert groups(name, texts, {"short_text_shingle": True}) == [0, 1, 2, 3]
    else:
        assert groups(name, texts) == [0, 1, 2, 3]


def test_document_exact() -> None:
    texts = ["Hello world", "hello world", "Hello world  ", "Hello, world!", "Hello world", f"{IMAGE_TOKEN}Hello world"]
    # the raw text is hashed, as Data-Juicer: an image token makes a text different
    assert groups("document_deduplicator", S(*texts)) == [0, 1, 0, 3, 0, 5]
    assert groups("document_deduplicator", S(*texts), {"strip_special_tokens": True}) == [0, 1, 0, 3, 0, 0]
    assert groups("document_deduplicator", S(*texts), {"lowercase": True}) == [0, 0, 0, 3, 0, 5]
    # Data-Juicer removes whitespace, digits and ASCII punctuation only: the token's letters stay
    assert groups("document_deduplicator", S(*texts), {"ignore_non_character": True}) == [0, 1, 0, 0, 0, 5]
    assert groups("document_deduplicator", S("héllo", "héllo", "hello")) == [0, 0, 2]


def test_simhash_near_duplicates() -> None:
    near = LONG + " today"
    other = "a completely different sentence about stock markets interest rates and inflation " * 2
    assert groups("document_simhash_deduplicator", S(LONG, other, near, LONG.upper())) == [0, 1, 0, 0]
    # with hamming_distance 1 the edited text is no longer close enough
    far = LONG.replace("fox", "wolf").replace("garden", "park").replace("warm", "soft")
    assert groups("document_simhash_deduplicator", S(LONG, far), {"hamming_distance": 1}) == [0, 1]
    with pytest.raises(ValidationError):
        get_op_class("document_simhash_deduplicator")({"hamming_distance": 6, "num_blocks": 6})


def test_short_texts_grouped_as_data_juicer_unless_opted_out() -> None:
    # Data-Juicer gives every text shorter than one window the same (empty) hash: all are "duplicates"
    texts = ["a cat", "a dog", "red car", "a cat"]
    assert groups("document_simhash_deduplicator", S(*texts)) == [0, 0, 0, 0]
    assert groups("document_minhash_deduplicator", S(*texts)) == [0, 0, 0, 0]
    opt = {"short_text_shingle": True}
    assert groups("document_simhash_deduplicator", S(*texts), opt) == [0, 1, 2, 0]
    assert groups("document_minhash_deduplicator", S(*texts), opt) == [0, 1, 2, 0]
    assert get_op_class("document_simhash_deduplicator")(opt).dj_unsupported_reason()


def test_minhash_near_duplicates() -> None:
    near = LONG + " today"
    other = "a completely different sentence about stock markets interest rates and inflation " * 2
    assert groups("document_minhash_deduplicator", S(LONG, other, near, LONG.upper())) == [0, 1, 0, 0]
    loose = LONG.replace("fox", "wolf").replace("garden", "park").replace("warm", "soft")
    assert groups("document_minhash_deduplicator", S(LONG, loose), {"jaccard_threshold": 0.95}) == [0, 1]
    with pytest.raises(ValueError, match="sentencepiece"):
        get_op_class("document_minhash_deduplicator")({"tokenization": "sentencepiece"})


def test_transitive_clusters_and_first_label() -> None:
    sig = np.array([[0b0000], [0b0011], [0b1111], [0xFFFF << 40]], dtype=np.uint64)
    # 0-1 differ by 2 bits, 1-2 by 2 bits, 0-2 by 4: one cluster labelled 0 with max distance 2
    assert labels_from_signatures(sig, 2, 3).tolist() == [0, 0, 0, 3]
    assert labels_from_signatures(sig, 0, 1).tolist() == [0, 1, 2, 3]
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**63, size=(300, 1), dtype=np.int64).astype(np.uint64)
    sig[50] = sig[10] ^ np.uint64(0b10110)  # 3 bits apart
    a, b = near_duplicate_pairs(sig, 4, 6)
    brute = {
        (i, j) for i in range(300) for j in range(i + 1, 300) if bin(int(sig[i, 0]) ^ int(sig[j, 0])).count("1") <= 4
    }
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == brute and (10, 50) in brute


def _img(path: Path, seed: int, size: int = 64) -> str:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(base).resize((size, size), Image.BILINEAR).save(path)
    return str(path)


def test_image_dedup(tmp_path: Path) -> None:
    a = _img(tmp_path / "a.png", 0)
    b = _img(tmp_path / "b.png", 1)
    a_copy = tmp_path / "a_copy.png"
    a_copy.write_bytes(Path(a).read_bytes())
    a_jpg = tmp_path / "a.jpg"
    Image.open(a).save(a_jpg, quality=90)  # re-encoded copy
    arr = np.asarray(Image.open(a)).astype(np.int16)
    noisy = np.clip(arr + np.random.default_rng(5).integers(-12, 13, arr.shape), 0, 255).astype(np.uint8)
    a_noisy = tmp_path / "a_noisy.png"
    Image.fromarray(noisy).save(a_noisy)
    images = [
        [a],
        [b],
        [str(a_copy)],
        [],
        [],
        [str(a_noisy)],
        [a, b],
        [str(a_copy), b],
        [str(tmp_path / "missing.png")],
    ]
    samples = S(*["x"] * len(images), images=images)
    exact = groups("image_deduplicator", samples)
    assert exact[:5] == [0, 1, 0, 3, 4]  # identical files grouped; samples without image stay alone
    assert exact[6:] == [6, 6, 8]  # all images hashed (concatenated); an unreadable one stays alone
    hashes, _ = hash_images([a, str(a_noisy), str(a_jpg)], "phash")
    assert [f"{int(h):016x}" for h in hashes] == [_imagededup_hash(p, "phash") for p in (a, str(a_noisy), str(a_jpg))]
    dist = max(bin(int(hashes[0]) ^ int(hashes[1])).count("1"), bin(int(hashes[0]) ^ int(hashes[2])).count("1"))
    near = groups("image_deduplicator", samples + S("x", images=[[str(a_jpg)]]), {"hash_distance": max(dist, 1)})
    assert near[5] == 0 and near[-1] == 0 and near[1] == 1
    # consider_text: same image, different text -> not duplicates
    two = S("one", "two", "one", images=[[a], [a], [a]])
    assert groups("image_deduplicator", two, {"consider_text": True}) == [0, 1, 0]
    assert groups("image_deduplicator", two, {"consider_text": True, "hash_distance": 2}) == [0, 1, 0]
    # Data-Juicer: with consider_text, image-less samples are keyed by their text alone; without, kept
    none = S("one", "one", "two", images=[[], [], []])
    assert groups("image_deduplicator", none, {"consider_text": True}) == [0, 0, 2]
    assert groups("image_deduplicator", none) == [0, 1, 2]
    # a path repeated in one sample counts once (Data-Juicer loads images into a dict by path)
    assert groups("image_deduplicator", S("x", "y", images=[[a, a], [a]])) == [0, 0]


def _imagededup_hash(path: str, method: str) -> str:
    """imagededup's hashing, written out plainly (per image, scipy/pywt), on the image as Data-Juicer loads
    it: an independent reference for the vectorised ``hash_images``."""
    import pywt
    from PIL import ImageOps
    from scipy.fftpack import dct

    with Image.open(path) as im:
        im.load()
        if im.getexif().get(0x0112) is not None:
            im = ImageOps.exif_transpose(im)
        rgb = np.array(im.convert("RGB"))
    size = {"phash": (32, 32), "ahash": (8, 8), "dhash": (9, 8), "whash": (256, 256)}[method]
    arr = np.array(Image.fromarray(rgb.astype("uint8")).resize(size, Image.LANCZOS).convert("L")).astype("uint8")
    if method == "phash":
        coef = dct(dct(arr, axis=0), axis=1)[:8, :8]
        bits = coef >= np.median(coef.flatten()[1:])
    elif method == "ahash":
        bits = arr >= np.mean(arr)
    elif method == "dhash":
        bits = arr[:, 1:] > arr[:, :-1]
    else:
        ll = pywt.wavedec2(data=arr / 255, wavelet="haar", level=5)[0]
        bits = ll >= np.median(ll.flatten())
    return "".join(f"{x:02x}" for x in np.packbits(bits))


@pytest.mark.parametrize("method", ["phash", "dhash", "ahash", "whash"])
def test_image_hash_methods_match_imagededup(tmp_path: Path, method: str) -> None:
    paths = [_img(tmp_path / "m.png", 3, size=50), str(tmp_path / "blank.png"), str(tmp_path / "rgba.png")]
    Image.new("RGB", (20, 20), (255, 255, 255)).save(paths[1])
    Image.new("RGBA", (30, 10), (255, 0, 0, 0)).save(paths[2])
    hashes, ok = hash_images(paths, method)
    assert ok.all()
    assert [f"{int(h):016x}" for h in hashes] == [_imagededup_hash(p, method) for p in paths]
