"""Deduplicators with Data-Juicer names and params (data_juicer/ops/deduplicator).

Each computes an int64 group label per sample over the whole pool: equal labels are duplicates, and a
group's label is the index of its first member (so "keep the first of each group" is ``label == index``).
This module keeps the op classes (params, registration, which signature feeds which grouping); the
vectorised kernels live in :mod:`recipelab.operators.dedup_signatures` (what a sample hashes to) and
:mod:`recipelab.operators.dedup_kernels` (signatures to groups), and their public names stay importable
from here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from recipelab.data.sample import Sample
from recipelab.operators.base import Deduplicator, OpContext, OpParams
from recipelab.operators.dedup_kernels import (
    image_hash_labels,
    labels_from_keys,
    labels_from_pairs,
    labels_from_signatures,
    minhash_lsh_labels,
    near_duplicate_pairs,
)
from recipelab.operators.dedup_signatures import (
    MAX_HASH,
    MERSENNE_PRIME,
    document_md5,
    document_shingles,
    hash_images,
    hash_images_star,
    minhashes,
    optimal_param,
    simhashes,
)
from recipelab.operators.registry import register

log = logging.getLogger(__name__)  # dedup_signatures logs unreadable images under this name too


# --------------------------------------------------------------------------------------------------
# Text preparation shared by the document deduplicators
# --------------------------------------------------------------------------------------------------
class _TextKeyParams(OpParams):
    #: Extension (not in Data-Juicer): hash the text without Data-Juicer's special tokens. Off by default:
    #: Data-Juicer hashes the raw text.
    strip_special_tokens: bool = False


def _text(s: Sample, p: OpParams) -> str:
    return s.plain_text() if getattr(p, "strip_special_tokens", False) else s.text


class _ShingleParams(_TextKeyParams):
    tokenization: Literal["space", "punctuation", "character"] = "space"
    window_size: int = Field(6, gt=0)
    lowercase: bool = True
    ignore_pattern: str | None = None
    #: Extension: a non-empty text shorter than one window gets one shingle (the whole text) instead of
    #: none. Off by default, as Data-Juicer, where all such texts share one hash (see document_shingles).
    short_text_shingle: bool = False

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


def _batch_shingles(samples: Sequence[Sample], p: _ShingleParams, dedupe: bool) -> list[list[bytes]]:
    return [
        document_shingles(_prepare(_text(s, p), p), p.tokenization, p.window_size, dedupe, p.short_text_shingle)
        for s in samples
    ]


_SHINGLE_EXTENSIONS = ("strip_special_tokens", "short_text_shingle")


# --------------------------------------------------------------------------------------------------
# document_deduplicator
# --------------------------------------------------------------------------------------------------
class DocumentDedupParams(_TextKeyParams):
    lowercase: bool = False
    ignore_non_character: bool = False


@register
class DocumentDeduplicator(Deduplicator):
    """Exact duplicates: md5 of the raw text (special tokens included, as Data-Juicer), stripped;
    optionally lower-cased, optionally without whitespace, digits and ASCII punctuation."""

    name = "document_deduplicator"
    summary = "exact text duplicates (md5)"
    Params = DocumentDedupParams
    hash_key = "__dj__hash"
    stat_params = ("lowercase", "ignore_non_character", "strip_special_tokens")
    extension_params = ("strip_special_tokens",)

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        return labels_from_keys([document_md5(_text(s, p), p.lowercase, p.ignore_non_character) for s in samples])


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


@register
class DocumentSimhashDeduplicator(Deduplicator):
    """Near duplicates by SimHash: 64-bit simhashes of word (or char / punctuation-split) shingles of the
    raw text; samples within ``hamming_distance`` bits are duplicates, transitively.

    As Data-Juicer, including its plain bug: a text with fewer words than ``window_size`` (6) has no
    shingle and gets simhash 0, so all such texts are duplicates of each other and only the first
    survives. ``short_text_shingle=True`` (extension, never exported) hashes them as one shingle."""

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
        *_SHINGLE_EXTENSIONS,
    )
    extension_params = _SHINGLE_EXTENSIONS

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        shingles = _batch_shingles(samples, p, dedupe=False)
        sig = simhashes(shingles)[:, None]
        return labels_from_signatures(sig, p.hamming_distance, p.num_blocks)


# --------------------------------------------------------------------------------------------------
# document_minhash_deduplicator
# --------------------------------------------------------------------------------------------------
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
    duplicates, transitively (Data-Juicer's union-find; no pairwise Jaccard check, as Data-Juicer).

    As Data-Juicer, a text with fewer words than ``window_size`` (5) has no shingle and an all-max
    minhash, so all such texts are duplicates of each other; ``short_text_shingle=True`` (extension)
    hashes them as one shingle instead."""

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
        *_SHINGLE_EXTENSIONS,
    )
    extension_params = _SHINGLE_EXTENSIONS

    def bands(self) -> tuple[int, int]:
        p = self.params
        if p.num_bands is None or p.num_rows_per_band is None:
            return optimal_param(p.jaccard_threshold, p.num_permutations)
        return p.num_bands, p.num_rows_per_band

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        shingles = _batch_shingles(samples, p, dedupe=True)
        mh = minhashes(shingles, p.num_permutations)
        num_bands, rows = self.bands()
        return minhash_lsh_labels(mh, num_bands, rows)


# --------------------------------------------------------------------------------------------------
# image_deduplicator
# --------------------------------------------------------------------------------------------------
class ImageDedupParams(_TextKeyParams):
    method: Literal["phash", "dhash", "whash", "ahash"] = "phash"
    consider_text: bool = False
    #: Extension (not in Data-Juicer): also group samples whose image hashes differ by at most this many
    #: bits in total (same number of images). 0 = Data-Juicer's exact hash equality.
    hash_distance: int = Field(0, ge=0)


@register
class ImageDeduplicator(Deduplicator):
    """Duplicate images, as Data-Juicer: a sample's key is the concatenation of the perceptual hashes
    (imagededup's, on the EXIF-rotated RGB image) of its *distinct* image paths, plus, with
    ``consider_text``, the md5 of its raw text; equal keys are duplicates.

    A sample without an image is kept, unless ``consider_text``: Data-Juicer's key is then ("", md5),
    so image-less samples with the same text are duplicates (matched). A sample with an unreadable image
    is a group of its own (Data-Juicer would stop on it).

    ``hash_distance`` (extension): samples with the same number of images whose hashes differ by at most
    that many bits (summed over images) are duplicates too, transitively."""

    name = "image_deduplicator"
    summary = "duplicate images (perceptual hash)"
    modality = "image"
    Params = ImageDedupParams
    hash_key = "__dj__imagehash"
    stat_params = ("method", "consider_text", "hash_distance", "strip_special_tokens")
    extension_params = ("hash_distance", "strip_special_tokens")

    def _image_hashes(self, paths: list[str], workers: int) -> tuple[np.ndarray, np.ndarray]:
        method = self.params.method
        if workers <= 1 or len(paths) < 4000:
            return hash_images(paths, method)
        chunks = [paths[i : i + 2000] for i in range(0, len(paths), 2000)]
        with ProcessPoolExecutor(max_workers=workers) as ex:
            parts = list(ex.map(hash_images_star, [(c, method) for c in chunks]))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        n = len(samples)
        # Data-Juicer loads a sample's images into a dict keyed by path: a repeated path counts once
        per_sample = [list(dict.fromkeys(s.images)) for s in samples]
        unique_paths = list(dict.fromkeys(path for paths in per_sample for path in paths))
        hashes, ok = self._image_hashes(unique_paths, context.workers if context else 1)
        where = {path: i for i, path in enumerate(unique_paths)}
        text_md5 = [document_md5(_text(s, p)) for s in samples] if p.consider_text else None
        if p.hash_distance == 0:
            keys: list[object] = []
            for i, paths in enumerate(per_sample):
                idx = [where[path] for path in paths]
                if not all(ok[j] for j in idx) or (not idx and text_md5 is None):
                    keys.append(("own", i))  # unreadable image, or no image: a group of its own
                else:
                    keys.append((tuple(int(hashes[j]) for j in idx), text_md5[i] if text_md5 else None))
            return labels_from_keys(keys)
        flat = [where[path] for paths in per_sample for path in paths]
        counts = np.fromiter(map(len, per_sample), dtype=np.int64, count=n)
        text_keys = np.array([int(m[:16], 16) for m in text_md5], dtype=np.uint64) if text_md5 is not None else None
        flat_idx = np.asarray(flat, dtype=np.int64)
        return image_hash_labels(hashes[flat_idx], ok[flat_idx], counts, text_keys, p.hash_distance)


__all__ = [
    "MAX_HASH",
    "MERSENNE_PRIME",
    "DocumentDeduplicator",
    "DocumentMinhashDeduplicator",
    "DocumentSimhashDeduplicator",
    "ImageDeduplicator",
    "document_md5",
    "hash_images",
    "labels_from_keys",
    "labels_from_pairs",
    "labels_from_signatures",
    "minhashes",
    "near_duplicate_pairs",
    "optimal_param",
    "simhashes",
]
