"""What each sample hashes to, for the deduplicators (``operators/dedup.py``): Data-Juicer's shingles, md5
document keys, SimHash and MinHash signatures, and perceptual image hashes. Pure functions, no op classes;
the grouping of these signatures is in :mod:`recipelab.operators.dedup_kernels`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

# The deduplicators' logger (where these warnings were logged before the split).
log = logging.getLogger("recipelab.operators.dedup")


# --------------------------------------------------------------------------------------------------
# Text: shingles and exact keys
# --------------------------------------------------------------------------------------------------
def _split_on_space(text: str) -> list[str]:
    """Data-Juicer's ``split_on_whitespace(text)`` (defaults): split on ' ' only, drop empty words."""
    return [w for w in text.split(" ") if w]


@lru_cache(maxsize=1)
def _punctuation_re() -> re.Pattern[str]:
    """``\\p{P}`` (any Unicode punctuation), as Data-Juicer's ``regex`` pattern, for the stdlib ``re``."""
    try:  # the `regex` package, when installed, knows Unicode properties
        import regex

        return regex.compile(r"\p{P}")  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - depends on the environment
        import sys
        import unicodedata

        chars = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)).startswith("P")]
        return re.compile("[" + re.escape("".join(chars)) + "]")


def document_shingles(
    text: str, tokenization: str, window: int, dedupe: bool, short_text_shingle: bool = False
) -> list[bytes]:
    """Data-Juicer's shingles of a document: windows of ``window`` chars / words.

    A text shorter than one window has no shingle, as in Data-Juicer, where all such texts then share
    one hash (simhash 0, minhash all-max) and so are all duplicates of each other: every caption of fewer
    than 6 words (simhash defaults) but the first is dropped. Matched on purpose, by default.
    ``short_text_shingle=True`` (extension) gives such a non-empty text one shingle, the whole text."""
    if tokenization == "character":
        shingles = [text[i : i + window] for i in range(len(text) - window + 1)]
        if short_text_shingle and not shingles and text:
            shingles = [text]
    else:
        words = _punctuation_re().split(text) if tokenization == "punctuation" else _split_on_space(text)
        shingles = [" ".join(words[i : i + window]) for i in range(len(words) - window + 1)]
        if short_text_shingle and not shingles and any(words):
            shingles = [" ".join(words)]
    out = [s.encode("utf-8", "surrogatepass") for s in shingles]
    return list(dict.fromkeys(out)) if dedupe else out


_NON_CHARACTER_RE = re.compile(rf"\s+|\d+|[{re.escape(string.punctuation)}]")


def document_md5(text: str, lowercase: bool = False, ignore_non_character: bool = False) -> str:
    if lowercase:
        text = text.lower()
    if ignore_non_character:
        text = _NON_CHARACTER_RE.sub("", text)
    return hashlib.md5(text.strip().encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------------------------------
# SimHash / MinHash signatures
# --------------------------------------------------------------------------------------------------
def simhashes(shingle_lists: Sequence[list[bytes]]) -> np.ndarray:
    """simhash-py's ``compute(map(unsigned_hash, shingles))`` for each list: bit b is set where more than
    half of the shingles' md5-based 64-bit hashes have it set (0 for no shingle)."""
    counts = np.fromiter(map(len, shingle_lists), dtype=np.int64, count=len(shingle_lists))
    out = np.zeros(len(shingle_lists), dtype=np.uint64)
    if counts.sum() == 0:
        return out
    digests = b"".join(hashlib.md5(s).digest()[:8] for shingles in shingle_lists for s in shingles)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1)
    has = counts > 0
    starts = (np.cumsum(counts) - counts)[has]
    ones = np.add.reduceat(bits.astype(np.int64), starts, axis=0)
    majority = (2 * ones > counts[has, None]).astype(np.uint8)
    out[has] = np.packbits(majority, axis=1).view(">u8").reshape(-1).astype(np.uint64)
    return out


MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)


@lru_cache(maxsize=32)
def optimal_param(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5):
    """(bands, rows) minimising the weighted false positive + false negative probability (datasketch's
    and Data-Juicer's ``optimal_param``).

    Their integrands ``1 - (1 - s**r)**b`` are polynomials of degree ``r*b <= num_perm``, so a
    Gauss-Legendre rule with ``num_perm // 2 + 1`` nodes integrates them exactly: the same choice as
    their ``scipy.integrate.quad`` loop, vectorised over all (b, r)."""
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=float)
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(lo: float, hi: float, positive: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        p = 1 - (1 - s[None, :] ** pairs[:, 1:2]) ** pairs[:, 0:1]  # P(candidate | similarity s)
        return ((p if positive else 1 - p) @ weights) * (hi - lo) / 2

    err = integral(0.0, threshold, True) * fp_weight + integral(threshold, 1.0, False) * fn_weight
    b, r = pairs[int(np.argmin(err))]
    return int(b), int(r)


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed=42)  # Data-Juicer's seed and draw order: same minhashes
    ab = np.array(
        [
            (gen.randint(1, MERSENNE_PRIME, dtype=np.uint64), gen.randint(0, MERSENNE_PRIME, dtype=np.uint64))
            for _ in range(num_perm)
        ],
        dtype=np.uint64,
    ).T
    return ab[0].copy(), ab[1].copy()


def minhashes(shingle_sets: Sequence[list[bytes]], num_perm: int) -> np.ndarray:
    """N x num_perm minhash matrix (uint64 values < 2**32), Data-Juicer's formula: sha1_hash32 of each
    shingle, ``(h * a + b) % (2**61 - 1) & (2**32 - 1)``, min over shingles; MAX_HASH for no shingle."""
    perm_a, perm_b = _permutations(num_perm)
    counts = np.fromiter(map(len, shingle_sets), dtype=np.int64, count=len(shingle_sets))
    out = np.full((len(shingle_sets), num_perm), MAX_HASH, dtype=np.uint64)
    if counts.sum() == 0:
        return out
    digests = b"".join(hashlib.sha1(s).digest()[:4] for shingles in shingle_sets for s in shingles)
    hv = np.frombuffer(digests, dtype="<u4").astype(np.uint64)
    phv = np.empty((len(hv), num_perm), dtype=np.uint64)
    step = max(1, (1 << 22) // num_perm)
    for i in range(0, len(hv), step):
        chunk = hv[i : i + step, None]
        phv[i : i + step] = np.bitwise_and((chunk * perm_a + perm_b) % MERSENNE_PRIME, MAX_HASH)
    has = counts > 0
    starts = (np.cumsum(counts) - counts)[has]
    out[has] = np.minimum.reduceat(phv, starts, axis=0)
    return out


# --------------------------------------------------------------------------------------------------
# Perceptual image hashes, as Data-Juicer's image_deduplicator computes them: imagededup's PHash / DHash /
# AHash / WHash (not the `imagehash` package's, which differ: other median, strict '>' and grayscale
# before resizing) on the image Data-Juicer loads (``datasets.Image``: EXIF orientation applied, then
# ``convert('RGB')``, so transparency becomes black).
# --------------------------------------------------------------------------------------------------
#: imagededup's target sizes (width, height) per method.
HASH_SIZES = {"phash": (32, 32), "ahash": (8, 8), "dhash": (9, 8), "whash": (256, 256)}
_EXIF_ORIENTATION = 0x0112


def _bits_to_u64(bits: np.ndarray) -> np.ndarray:
    """(N, 64) booleans, row-major as imagededup packs its hash, to uint64 (same hex as imagededup)."""
    return np.packbits(bits.astype(np.uint8), axis=1).view(">u8").reshape(-1).astype(np.uint64)


def load_dj_gray(path: str, size: tuple[int, int]) -> np.ndarray | None:
    """The uint8 grayscale array imagededup hashes for Data-Juicer: the image as ``datasets.Image`` decodes
    it (EXIF orientation applied), ``convert('RGB')``, resized to ``size`` with LANCZOS, then ``'L'``."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            im.load()
            if im.getexif().get(_EXIF_ORIENTATION) is not None:
                im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
        return np.asarray(rgb.resize(size, Image.Resampling.LANCZOS).convert("L"), dtype=np.uint8)
    except Exception as e:  # unreadable image: the sample becomes its own group
        log.warning("image_deduplicator: cannot read %s: %s", path, e)
        return None


def _whash_bits(pix: np.ndarray) -> np.ndarray:
    import pywt

    out = np.zeros((len(pix), 64), dtype=bool)
    for i, arr in enumerate(pix):
        ll = pywt.wavedec2(data=arr / 255, wavelet="haar", level=5)[0]
        out[i] = (ll >= np.median(ll.ravel())).ravel()
    return out


def hash_images(paths: Sequence[str], method: str) -> tuple[np.ndarray, np.ndarray]:
    """64-bit perceptual hash per image, equal to Data-Juicer's (imagededup's ``<Method>().encode_image``
    of the loaded image, as hex), and an ok mask (False: unreadable)."""
    n = len(paths)
    out = np.zeros(n, dtype=np.uint64)
    ok = np.zeros(n, dtype=bool)
    size = HASH_SIZES[method]
    pix = np.zeros((n, size[1], size[0]), dtype=np.uint8)
    for i, path in enumerate(paths):
        arr = load_dj_gray(path, size)
        if arr is not None:
            pix[i] = arr
            ok[i] = True
    if n == 0:
        return out, ok
    if method == "phash":
        from scipy.fftpack import dct

        # scipy's own DCT, in imagededup's order (columns, then rows): on a flat image the AC terms are
        # rounding noise, and only the same arithmetic gives the same noise, hence the same hash
        low = dct(dct(pix.astype(np.float64), axis=1), axis=2)[:, :8, :8]
        flat = low.reshape(n, 64)
        bits = flat >= np.median(flat[:, 1:], axis=1, keepdims=True)  # median without the DC term, '>='
    elif method == "ahash":
        flat = pix.reshape(n, 64).astype(np.float64)
        bits = flat >= flat.mean(axis=1, keepdims=True)
    elif method == "dhash":  # each pixel brighter than its left neighbour
        bits = (pix[:, :, 1:] > pix[:, :, :-1]).reshape(n, 64)
    else:
        bits = _whash_bits(pix)
    out[:] = _bits_to_u64(bits)
    return out, ok


def hash_images_star(args: tuple[list[str], str]) -> tuple[np.ndarray, np.ndarray]:
    return hash_images(*args)


__all__ = [
    "MAX_HASH",
    "MERSENNE_PRIME",
    "document_md5",
    "document_shingles",
    "hash_images",
    "hash_images_star",
    "minhashes",
    "optimal_param",
    "simhashes",
]
