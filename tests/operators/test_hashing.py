"""The shared 64-bit hashing module: pinned values (cached stats and dedup groups depend on them), one copy
used by every kernel, and dedup groups / repetition stats of a crafted batch as they were before the split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recipelab.data.sample import Sample
from recipelab.operators import dedup, dedup_kernels, hashing, text, text_kernels
from recipelab.operators.registry import get_op_class

MIX_INPUTS = np.array([0, 1, 2, 0xFFFFFFFF, 2**63], dtype=np.uint64)
MIX_PINNED = [0xE220A8397B1DCDAF, 0x910A2DEC89025CC1, 0x975835DE1C9756CE, 0x73B13BA2AFF181C0, 0x481EC0A212A9F3DB]


def test_mix64_is_splitmix64_and_pinned():
    # 0xE220A8397B1DCDAF is splitmix64's first output from seed 0: the reference finaliser.
    assert [int(v) for v in hashing.mix64(MIX_INPUTS)] == MIX_PINNED
    assert hashing.mix64(MIX_INPUTS).dtype == np.uint64
    # deterministic, and the same for any integer dtype of the same values
    assert np.array_equal(hashing.mix64(MIX_INPUTS), hashing.mix64(MIX_INPUTS.copy()))
    small = np.arange(1000, dtype=np.uint32)
    assert np.array_equal(hashing.mix64(small), hashing.mix64(small.astype(np.int64)))


def test_mix64_differs_for_different_inputs():
    x = np.arange(200_000, dtype=np.uint64)
    assert len(np.unique(hashing.mix64(x))) == len(x)  # a bijection: no collision
    # one flipped input bit changes about half of the output bits
    flips = np.bitwise_count(hashing.mix64(x) ^ hashing.mix64(x ^ np.uint64(1))).mean()
    assert 28 < flips < 36


def test_fold_rows_pinned_and_order_sensitive():
    rows = np.array([[1, 2, 3], [3, 2, 1], [1, 2, 3], [0, 0, 0]], dtype=np.uint64)
    h = hashing.fold_rows(rows)
    assert [int(v) for v in h] == [0xD0734750FDE362B3, 0xD62A7F6E291FEF64, 0xD0734750FDE362B3, 0x238275BC38FCBE91]
    assert h[0] == h[2] and h[0] != h[1]


def test_span_hashes_pinned_and_polynomial():
    cps, offsets = text_kernels.codepoints(["abc", "ab", "bc"])
    h = hashing.span_hashes(cps, offsets[:-1], offsets[1:])
    assert [int(v) for v in h] == [0xE886D5455F3FB8BB, 0x15638B60FB5F2860, 0xFC63130C3DBCCFCE]
    # the same as the polynomial sum_j mix(c_j) * M**j mod 2**64, computed with Python ints
    mixed = [int(v) for v in hashing.mix64(np.array([ord(c) for c in "abc"], dtype=np.uint32))]
    expected = sum(m * pow(hashing.HASH_MULT, j, 2**64) for j, m in enumerate(mixed)) % 2**64
    assert int(h[0]) == expected
    assert hashing.HASH_MULT * hashing.HASH_MULT_INV % 2**64 == 1
    # a span hashes the same wherever it sits
    cps2, _ = text_kernels.codepoints(["xxbc"])
    assert hashing.span_hashes(cps2, np.array([2]), np.array([4]))[0] == h[2]


def test_one_copy_of_the_mixer():
    assert text_kernels.mix64 is hashing.mix64
    assert text_kernels.span_hashes is hashing.span_hashes
    assert dedup_kernels.fold_rows is hashing.fold_rows
    package = Path(hashing.__file__).parents[1]
    holders = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if "9E3779B97F4A7C15" in p.read_text(encoding="utf-8").upper()  # splitmix64's increment
    ]
    assert holders == ["operators/hashing.py"]


# Every public name the two modules defined before their kernels moved out.
TEXT_NAMES = (
    "RESOURCES_DIR EMOJI_RANGES SPECIAL_CHARACTERS is_special_char refined_words raw_words codepoints char_flags "
    "count_chars ngram_groups WordBatch load_words_asset TextLengthParams TextLengthFilter WordsNumParams "
    "WordsNumFilter WordRepetitionParams WordRepetitionFilter CharacterRepetitionParams CharacterRepetitionFilter "
    "SpecialCharactersParams SpecialCharactersFilter AlphanumericParams AlphanumericFilter LineLengthParams "
    "AverageLineLengthFilter MaximumLineLengthFilter StopwordsParams StopWordsFilter FlaggedWordsParams "
    "FlaggedWordFilter TextEntropyParams TextEntropyFilter"
).split()
DEDUP_NAMES = (
    "log labels_from_keys labels_from_pairs near_duplicate_pairs labels_from_signatures DocumentDedupParams "
    "document_md5 DocumentDeduplicator SimhashParams simhashes DocumentSimhashDeduplicator MERSENNE_PRIME MAX_HASH "
    "optimal_param minhashes MinhashParams DocumentMinhashDeduplicator hash_images ImageDedupParams ImageDeduplicator"
).split()


def test_public_names_still_importable_from_the_op_modules():
    for name in [*TEXT_NAMES, *text.__all__]:
        assert hasattr(text, name), name
    for name in [*DEDUP_NAMES, *dedup.__all__]:
        assert hasattr(dedup, name), name
    from recipelab.operators.base import AnyOrAll
    from recipelab.operators.image import AnyOrAll as from_image

    assert from_image is AnyOrAll


CRAFTED = [
    "the quick brown fox jumps over the lazy dog today",
    "the quick brown fox jumps over the lazy dog today",
    "The Quick Brown Fox jumps over the lazy dog today!",
    "the quick brown fox jumps over the lazy cat today",
    "a completely different sentence about recipes and data",
    "a completely different sentence about recipes and data filters",
    "short",
    "short",
    "",
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do",
]


@pytest.mark.parametrize(
    ("name", "params", "labels"),
    [
        ("document_deduplicator", {}, [0, 0, 2, 3, 4, 5, 6, 6, 8, 9]),
        ("document_deduplicator", {"lowercase": True, "ignore_non_character": True}, [0, 0, 0, 3, 4, 5, 6, 6, 8, 9]),
        # "short", "short" and "" have no 6- (5-) word shingle: one hash, one group (as Data-Juicer)
        ("document_simhash_deduplicator", {}, [0, 0, 2, 3, 4, 5, 6, 6, 6, 9]),
        ("document_minhash_deduplicator", {}, [0, 0, 0, 3, 4, 4, 6, 6, 6, 9]),
        ("document_simhash_deduplicator", {"short_text_shingle": True}, [0, 0, 2, 3, 4, 5, 6, 6, 8, 9]),
        ("document_minhash_deduplicator", {"short_text_shingle": True}, [0, 0, 0, 3, 4, 4, 6, 6, 8, 9]),
        (
            "document_minhash_deduplicator",
            {"tokenization": "character", "window_size": 4, "jaccard_threshold": 0.5},
            [0, 0, 0, 0, 4, 4, 6, 6, 8, 9],
        ),
    ],
)
def test_dedup_groups_of_a_crafted_batch_are_pinned(name, params, labels):
    samples = [Sample(id=str(i), text=t) for i, t in enumerate(CRAFTED)]
    assert get_op_class(name)(params).compute_groups(samples).tolist() == labels


def test_repetition_stats_are_pinned():
    words = get_op_class("word_repetition_filter")({"rep_len": 2})
    st = words.compute_stats([Sample(id="0", text="a b a b a b c"), Sample(id="1", text="x y z")])
    assert st["word_rep_ratio"].values.tolist() == [0.8333333333333334, 0.0]
    chars = get_op_class("character_repetition_filter")({"rep_len": 2})
    st = chars.compute_stats([Sample(id="0", text="abababab"), Sample(id="1", text="abcdef")])
    assert st["char_rep_ratio"].values.tolist() == [0.5714285714285714, 0.0]
