"""Deduplicators with Data-Juicer names and params (data_juicer/ops/deduplicator).

Each computes an int64 group label per sample over the whole pool: equal labels are duplicates, and a
group's label is the index of its first member (so "keep the first of each group" is ``label == index``).
Near-duplicate clustering is a connected-components pass over the duplicate pairs (union-find, as
Data-Juicer), done with scipy.
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from itertools import combinations
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from recipelab.data.sample import Sample
from recipelab.operators.base import Deduplicator, OpContext, OpParams
from recipelab.operators.registry import register

log = logging.getLogger(__name__)

_U64 = np.uint64


# --------------------------------------------------------------------------------------------------
# Grouping helpers
# --------------------------------------------------------------------------------------------------
def labels_from_keys(keys: Sequence[object]) -> np.ndarray:
    """Exact grouping: the label of a sample is the index of the first sample with the same key."""
    first: dict[object, int] = {}
    return np.fromiter((first.setdefault(k, i) for i, k in enumerate(keys)), dtype=np.int64, count=len(keys))


def labels_from_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the pair graph; each labelled by its smallest index."""
    if len(a) == 0:
        return np.arange(n, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    _, first = np.unique(comp, return_index=True)  # first index of each component, components in order
    return first[comp].astype(np.int64)


def _mix64(x: np.ndarray) -> np.ndarray:
    z = x.astype(np.uint64) + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def _fold_rows(rows: np.ndarray) -> np.ndarray:
    """One 64-bit hash per row of an integer matrix (equal rows, equal hashes)."""
    h = np.zeros(len(rows), dtype=np.uint64)
    for j in range(rows.shape[1]):
        h = _mix64(h ^ rows[:, j].astype(np.uint64))
    return h


def _pairs_in_buckets(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, with keys[i] == keys[j]."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = k[1:] != k[:-1]
    run_start = np.flatnonzero(new)
    run_len = np.diff(np.append(run_start, len(k)))
    run_of = np.repeat(np.arange(len(run_start)), run_len)
    rank = np.arange(len(k)) - run_start[run_of]
    later = run_len[run_of] - 1 - rank  # partners after each element in its run
    total = int(later.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    first = np.repeat(np.arange(len(k)), later)
    step = np.arange(total) - np.repeat(np.cumsum(later) - later, later)
    return order[first], order[first + 1 + step]


def near_duplicate_pairs(sig: np.ndarray, max_dist: int, num_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows of ``sig`` (N x W uint64, i.e. 64*W-bit signatures) within Hamming distance
    ``max_dist``. As simhash's ``find_all``: the bits are cut into ``num_blocks`` blocks; two signatures
    within the distance agree on at least ``num_blocks - max_dist`` whole blocks, so candidates are the
    rows sharing such a block combination, and candidates are then verified. Exact (no misses)."""
    n, w = sig.shape
    nbits = 64 * w
    if n < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    num_blocks = max(min(num_blocks, nbits), max_dist + 1) if max_dist < nbits else 1
    bounds = np.linspace(0, nbits, num_blocks + 1).round().astype(int)
    # per block, a W-word mask (bit b of the signature is bit (63 - b % 64) of word b // 64)
    masks = np.zeros((num_blocks, w), dtype=np.uint64)
    for blk in range(num_blocks):
        for bit in range(bounds[blk], bounds[blk + 1]):
            masks[blk, bit // 64] |= _U64(1) << _U64(63 - bit % 64)
    keep = max(num_blocks - max_dist, 0)
    combos = list(combinations(range(num_blocks), keep)) if keep > 0 else [()]
    cand_a, cand_b = [], []
    for combo in combos:
        mask = np.zeros(w, dtype=np.uint64)
        for blk in combo:
            mask |= masks[blk]
        a, b = _pairs_in_buckets(_fold_rows(sig & mask))
        cand_a.append(a)
        cand_b.append(b)
    a = np.concatenate(cand_a)
    b = np.concatenate(cand_b)
    if len(a) == 0:
        return a, b
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    uniq = np.unique(lo * n + hi)
    lo, hi = uniq // n, uniq % n
    dist = np.bitwise_count(sig[lo] ^ sig[hi]).sum(axis=1)
    ok = dist <= max_dist
    return lo[ok], hi[ok]


def labels_from_signatures(sig: np.ndarray, max_dist: int, num_blocks: int) -> np.ndarray:
    """Group rows equal or within ``max_dist`` bits (transitively); exact duplicates are collapsed first."""
    n = len(sig)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, first_idx, inv = np.unique(sig, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if max_dist > 0 and len(uniq) > 1:
        a, b = near_duplicate_pairs(uniq, max_dist, num_blocks)
        comp = labels_from_pairs(len(uniq), a, b)
    else:
        comp = np.arange(len(uniq), dtype=np.int64)
    sample_comp = comp[inv]
    _, first = np.unique(sample_comp, return_index=True)
    lookup = np.empty(int(sample_comp.max()) + 1, dtype=np.int64)
    lookup[np.unique(sample_comp)] = first
    return lookup[sample_comp]


# --------------------------------------------------------------------------------------------------
# Text preparation shared by the document deduplicators
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


def _shingles(text: str, tokenization: str, window: int, dedupe: bool) -> list[bytes]:
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


class _ShingleParams(OpParams):
    tokenization: Literal["space", "punctuation", "character"] = "space"
    window_size: int = Field(6, gt=0)
    lowercase: bool = True
    ignore_pattern: str | None = None

    @field_validator("ignore_pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"invalid ignore_pattern {v!r}: {e}") from e
        return v


def _prepare(text: str, p: _ShingleParams) -> str:
    if p.lowercase:
        text = text.lower()
    if p.ignore_pattern:
        text = re.sub(p.ignore_pattern, "", text)
    return text


# --------------------------------------------------------------------------------------------------
# document_deduplicator
# --------------------------------------------------------------------------------------------------
class DocumentDedupParams(OpParams):
    lowercase: bool = False
    ignore_non_character: bool = False


_NON_CHARACTER_RE = re.compile(rf"\s+|\d+|[{re.escape(string.punctuation)}]")


def document_md5(text: str, lowercase: bool = False, ignore_non_character: bool = False) -> str:
    if lowercase:
        text = text.lower()
    if ignore_non_character:
        text = _NON_CHARACTER_RE.sub("", text)
    return hashlib.md5(text.strip().encode("utf-8", "surrogatepass")).hexdigest()


@register
class DocumentDeduplicator(Deduplicator):
    """Exact duplicates: md5 of the (stripped; optionally lower-cased, optionally without whitespace,
    digits and punctuation) text."""

    name = "document_deduplicator"
    summary = "exact text duplicates (md5)"
    Params = DocumentDedupParams
    hash_key = "__dj__hash"
    stat_params = ("lowercase", "ignore_non_character")

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        return labels_from_keys([document_md5(s.plain_text(), p.lowercase, p.ignore_non_character) for s in samples])


# --------------------------------------------------------------------------------------------------
# document_simhash_deduplicator
# --------------------------------------------------------------------------------------------------
class SimhashParams(_ShingleParams):
    num_blocks: int = Field(6, gt=0)
    hamming_distance: int = Field(4, gt=0)

    @model_validator(mode="after")
    def _blocks(self) -> SimhashParams:
        if self.hamming_distance >= self.num_blocks:
            raise ValueError("hamming_distance must be < num_blocks (as simhash's find_all requires)")
        return self


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


@register
class DocumentSimhashDeduplicator(Deduplicator):
    """Near duplicates by SimHash: 64-bit simhashes of word (or char / punctuation-split) shingles;
    samples within ``hamming_distance`` bits are duplicates, transitively."""

    name = "document_simhash_deduplicator"
    summary = "near-duplicate texts (SimHash, Hamming distance)"
    Params = SimhashParams
    hash_key = "__dj__simhash"
    stat_params = (
        "tokenization",
        "window_size",
        "lowercase",
        "ignore_pattern",
        "num_blocks",
        "hamming_distance",
    )

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        shingles = [_shingles(_prepare(s.plain_text(), p), p.tokenization, p.window_size, False) for s in samples]
        sig = simhashes(shingles)[:, None]
        return labels_from_signatures(sig, p.hamming_distance, p.num_blocks)


# --------------------------------------------------------------------------------------------------
# document_minhash_deduplicator
# --------------------------------------------------------------------------------------------------
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


class MinhashParams(_ShingleParams):
    tokenization: Literal["space", "punctuation", "character", "sentencepiece"] = "space"
    window_size: int = Field(5, gt=0)
    num_permutations: int = Field(256, gt=0)
    jaccard_threshold: float = Field(0.7, ge=0.0, le=1.0)
    num_bands: int | None = Field(None, gt=0)
    num_rows_per_band: int | None = Field(None, gt=0)
    tokenizer_model: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MinhashParams:
        if self.tokenization == "sentencepiece":
            raise ValueError(
                "tokenization='sentencepiece' needs a sentencepiece model, which recipelab does not load; "
                "use 'space', 'punctuation' or 'character'"
            )
        if self.num_bands is not None and self.num_rows_per_band is not None:
            if self.num_bands * self.num_rows_per_band > self.num_permutations:
                raise ValueError("num_bands * num_rows_per_band must be <= num_permutations")
        return self


@register
class DocumentMinhashDeduplicator(Deduplicator):
    """Near duplicates by MinHash LSH: samples sharing any LSH band (tuned for ``jaccard_threshold``) are
    duplicates, transitively (Data-Juicer's union-find; no pairwise Jaccard check, as Data-Juicer)."""

    name = "document_minhash_deduplicator"
    summary = "near-duplicate texts (MinHash LSH, Jaccard)"
    Params = MinhashParams
    hash_key = "__dj__minhash"
    stat_params = (
        "tokenization",
        "window_size",
        "lowercase",
        "ignore_pattern",
        "num_permutations",
        "jaccard_threshold",
        "num_bands",
        "num_rows_per_band",
        "tokenizer_model",
    )

    def bands(self) -> tuple[int, int]:
        p = self.params
        if p.num_bands is None or p.num_rows_per_band is None:
            return optimal_param(p.jaccard_threshold, p.num_permutations)
        return p.num_bands, p.num_rows_per_band

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        n = len(samples)
        shingles = [_shingles(_prepare(s.plain_text(), p), p.tokenization, p.window_size, True) for s in samples]
        mh = minhashes(shingles, p.num_permutations)
        num_bands, rows = self.bands()
        edges_a, edges_b = [], []
        for band in range(num_bands):
            keys = _fold_rows(mh[:, band * rows : (band + 1) * rows])
            # join every bucket member to the bucket's first member (Data-Juicer: union with min index)
            order = np.argsort(keys, kind="stable")
            k = keys[order]
            new = np.ones(n, dtype=bool)
            new[1:] = k[1:] != k[:-1]
            head = order[np.flatnonzero(new)][np.cumsum(new) - 1]
            dup = head != order
            edges_a.append(order[dup])
            edges_b.append(head[dup])
        a = np.concatenate(edges_a) if edges_a else np.zeros(0, dtype=np.int64)
        b = np.concatenate(edges_b) if edges_b else np.zeros(0, dtype=np.int64)
        return labels_from_pairs(n, a, b)


# --------------------------------------------------------------------------------------------------
# image_deduplicator
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
                    out[i] = _U64(int(str(imagehash.whash(im)), 16))
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


def _hash_images_star(args: tuple[list[str], str]) -> tuple[np.ndarray, np.ndarray]:
    return hash_images(*args)


class ImageDedupParams(OpParams):
    method: Literal["phash", "dhash", "whash", "ahash"] = "phash"
    consider_text: bool = False
    #: Extension (not in Data-Juicer): also group samples whose image hashes differ by at most this many
    #: bits in total (same number of images). 0 = Data-Juicer's exact hash equality.
    hash_distance: int = Field(0, ge=0)


@register
class ImageDeduplicator(Deduplicator):
    """Duplicate images: a sample's key is the concatenation of the perceptual hashes of all its images
    (plus the md5 of its text with ``consider_text``); equal keys are duplicates. A sample without an
    image (or with an unreadable one) is a group of its own.

    ``hash_distance`` (extension): samples with the same number of images whose hashes differ by at most
    that many bits (summed over images) are duplicates too, transitively."""

    name = "image_deduplicator"
    summary = "duplicate images (perceptual hash)"
    modality = "image"
    Params = ImageDedupParams
    hash_key = "__dj__imagehash"
    stat_params = ("method", "consider_text", "hash_distance")

    def _image_hashes(self, paths: list[str], workers: int) -> tuple[np.ndarray, np.ndarray]:
        method = self.params.method
        if workers <= 1 or len(paths) < 4000:
            return hash_images(paths, method)
        chunks = [paths[i : i + 2000] for i in range(0, len(paths), 2000)]
        with ProcessPoolExecutor(max_workers=workers) as ex:
            parts = list(ex.map(_hash_images_star, [(c, method) for c in chunks]))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        n = len(samples)
        labels = np.arange(n, dtype=np.int64)
        paths = [path for s in samples for path in s.images]
        counts = np.fromiter((len(s.images) for s in samples), dtype=np.int64, count=n)
        hashes, ok = self._image_hashes(paths, context.workers if context else 1)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        all_ok = np.ones(n, dtype=bool)
        bad = np.flatnonzero(~ok)
        all_ok[np.searchsorted(offsets, bad, side="right") - 1] = False
        text_keys = (
            np.array([int(document_md5(s.plain_text())[:16], 16) for s in samples], dtype=np.uint64)
            if p.consider_text
            else None
        )
        for k in np.unique(counts[counts > 0]):
            idx = np.flatnonzero((counts == k) & all_ok)
            if len(idx) < 2:
                continue
            sig = hashes[offsets[idx][:, None] + np.arange(k)[None, :]]
            if p.hash_distance == 0 or text_keys is None:
                if text_keys is not None:
                    sig = np.concatenate([sig, text_keys[idx, None]], axis=1)
                sub = labels_from_signatures(sig, p.hash_distance, p.hash_distance + 1)
            else:
                # near image duplicates, but the text must match exactly
                uniq, first_idx, inv = np.unique(sig, axis=0, return_index=True, return_inverse=True)
                a, b = near_duplicate_pairs(uniq, p.hash_distance, p.hash_distance + 1)
                # expand unique-signature pairs to sample pairs with equal text
                ga, gb = _expand_pairs(inv.reshape(-1), a, b)
                same_sig_a, same_sig_b = _pairs_in_buckets(inv.reshape(-1).astype(np.uint64))
                ga = np.concatenate([ga, same_sig_a])
                gb = np.concatenate([gb, same_sig_b])
                tk = text_keys[idx]
                keep = tk[ga] == tk[gb]
                sub = labels_from_pairs(len(idx), ga[keep], gb[keep])
            labels[idx] = idx[sub]
        return labels


def _expand_pairs(inv: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of unique signatures -> pairs of their first members (members of one signature are joined
    separately), so components come out the same."""
    if len(a) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n_u = int(inv.max()) + 1
    members: list[list[int]] = [[] for _ in range(n_u)]
    for i, u in enumerate(inv.tolist()):
        members[u].append(i)
    ga = [x for u, v in zip(a.tolist(), b.tolist(), strict=True) for x in members[u] for _ in members[v]]
    gb = [y for u, v in zip(a.tolist(), b.tolist(), strict=True) for _ in members[u] for y in members[v]]
    return np.asarray(ga, dtype=np.int64), np.asarray(gb, dtype=np.int64)


__all__ = [
    "DocumentDeduplicator",
    "DocumentMinhashDeduplicator",
    "DocumentSimhashDeduplicator",
    "ImageDeduplicator",
    "hash_images",
    "labels_from_keys",
    "labels_from_pairs",
    "labels_from_signatures",
    "minhashes",
    "near_duplicate_pairs",
    "optimal_param",
    "simhashes",
]
