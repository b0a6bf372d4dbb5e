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


def _batch_shingles(samples: Sequence[Sample], p: _ShingleParams, dedupe: bool) -> list[list[bytes]]:
    return [document_shingles(_prepare(s.plain_text(), p), p.tokenization, p.window_size, dedupe) for s in samples]


# --------------------------------------------------------------------------------------------------
# document_deduplicator
# --------------------------------------------------------------------------------------------------
class DocumentDedupParams(OpParams):
    lowercase: bool = False
    ignore_non_character: bool = False


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
        shingles = _batch_shingles(samples, p, dedupe=True)
        mh = minhashes(shingles, p.num_permutations)
        num_bands, rows = self.bands()
        return minhash_lsh_labels(mh, num_bands, rows)


# --------------------------------------------------------------------------------------------------
# image_deduplicator
# --------------------------------------------------------------------------------------------------
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
            parts = list(ex.map(hash_images_star, [(c, method) for c in chunks]))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def compute_groups(self, samples: Sequence[Sample], context: OpContext | None = None) -> np.ndarray:
        p = self.params
        n = len(samples)
        paths = [path for s in samples for path in s.images]
        counts = np.fromiter((len(s.images) for s in samples), dtype=np.int64, count=n)
        hashes, ok = self._image_hashes(paths, context.workers if context else 1)
        text_keys = (
            np.array([int(document_md5(s.plain_text())[:16], 16) for s in samples], dtype=np.uint64)
            if p.consider_text
            else None
        )
        return image_hash_labels(hashes, ok, counts, text_keys, p.hash_distance)


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
