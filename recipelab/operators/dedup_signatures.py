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

from recipelab.operators.hashing import U64

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


def document_shingles(text: str, tokenization: str, window: int, dedupe: bool) -> list[bytes]:
    """Data-Juicer's shingles of a document: windows of ``window`` chars / words.

    Extension: a non-empty text shorter than one window gives one shingle (the whole text) instead of
    none; with none, Data-Juicer gives all such texts the same hash and so groups every short text
    together (every caption of fewer than 5 words, with the minhash defaults)."""
    if tokenization == "character":
        shingles = [text[i : i + window] for i in range(len(text) - window + 1)]
        if not shingles and text:
            shingles = [text]
    else:
        words = _punctuation_re().split(text) if tokenization == "punctuation" else _split_on_space(text)
        shingles = [" ".join(words[i : i + window]) for i in range(len(words) - window + 1)]
        if not shingles and any(words):
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
# Perceptual image hashes (imagehash's phash / dhash / ahash / whash)
# --------------------------------------------------------------------------------------------------
def _dct_matrix(size: int, keep: int) -> np.ndarray:
    """First ``keep`` rows of scipy.fftpack's unnormalised DCT-II matrix of order ``size``."""
    k = np.arange(keep)[:, None]
    n = np.arange(size)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * size))


_DCT8x32 = _dct_matrix(32, 8)


def _bits_to_u64(bits: np.ndarray) -> np.ndarray:
    """(N, 64) booleans, row-major as imagehash flattens its hash, to uint64 (same hex as imagehash)."""
    return np.packbits(bits.astype(np.uint8), axis=1).view(">u8").reshape(-1).astype(np.uint64)


def _load_gray(path: str, size: tuple[int, int]) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            # imagehash: convert('L') then resize with ANTIALIAS (= LANCZOS)
            return np.asarray(im.convert("L").resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    except Exception as e:  # unreadable image: the sample becomes its own group
        log.warning("image_deduplicator: cannot read %s: %s", path, e)
        return None


def hash_images(paths: Sequence[str], method: str) -> tuple[np.ndarray, np.ndarray]:
    """64-bit perceptual hash per image (equal to ``imagehash.<method>`` of the file), and an ok mask."""
    n = len(paths)
    out = np.zeros(n, dtype=np.uint64)
    ok = np.zeros(n, dtype=bool)
    if method == "whash":
        import imagehash
        from PIL import Image

        for i, path in enumerate(paths):
            try:
                with Image.open(path) as im:
                    out[i] = U64(int(str(imagehash.whash(im)), 16))
                ok[i] = True
            except Exception as e:
                log.warning("image_deduplicator: cannot read %s: %s", path, e)
        return out, ok
    size = {"phash": (32, 32), "ahash": (8, 8), "dhash": (9, 8)}[method]
    pix = np.zeros((n, size[1], size[0]), dtype=np.float64)
    for i, path in enumerate(paths):
        arr = _load_gray(path, size)
        if arr is not None:
            pix[i] = arr
            ok[i] = True
    if method == "phash":
        low = _DCT8x32 @ pix @ _DCT8x32.T  # (n, 8, 8): the low-frequency DCT block
        flat = low.reshape(n, 64)
        bits = flat > np.median(flat, axis=1, keepdims=True)
    elif method == "ahash":
        flat = pix.reshape(n, 64)
        bits = flat > flat.mean(axis=1, keepdims=True)
    else:  # dhash: each pixel brighter than its left neighbour
        bits = (pix[:, :, 1:] > pix[:, :, :-1]).reshape(n, 64)
    out[:] = _bits_to_u64(bits) if n else out
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
