"""Text filters: Data-Juicer semantics (defaults, stat keys, closed intervals, edge cases)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from pydantic import ValidationError

from recipelab.data.sample import EOC_TOKEN, IMAGE_TOKEN, Sample
from recipelab.operators.base import MAXSIZE, Filter
from recipelab.operators.registry import get_op_class
from recipelab.operators.text import is_special_char, load_words_asset, refined_words

TEXT_OPS = {
    "text_length_filter": ("text_len", {"min_len": 10, "max_len": MAXSIZE}),
    "words_num_filter": ("num_words", {"lang": "en", "tokenization": False, "min_num": 10, "max_num": MAXSIZE}),
    "word_repetition_filter": (
        "word_rep_ratio",
        {"lang": "en", "tokenization": False, "rep_len": 10, "min_ratio": 0.0, "max_ratio": 0.5},
    ),
    "character_repetition_filter": ("char_rep_ratio", {"rep_len": 10, "min_ratio": 0.0, "max_ratio": 0.5}),
    "special_characters_filter": ("special_char_ratio", {"min_ratio": 0.0, "max_ratio": 0.25}),
    "alphanumeric_filter": ("alnum_ratio", {"tokenization": False, "min_ratio": 0.25, "max_ratio": MAXSIZE}),
    "average_line_length_filter": ("avg_line_length", {"min_len": 10, "max_len": MAXSIZE}),
    "maximum_line_length_filter": ("max_line_length", {"min_len": 10, "max_len": MAXSIZE}),
    "stopwords_filter": (
        "stopwords_ratio",
        {
            "lang": "en",
            "tokenization": False,
            "min_ratio": 0.3,
            "max_ratio": 1.0,
            "stopwords_dir": None,
            "use_words_aug": False,
            "words_aug_group_sizes": [2],
            "words_aug_join_char": "",
        },
    ),
    "flagged_words_filter": (
        "flagged_words_ratio",
        {
            "lang": "en",
            "tokenization": False,
            "min_ratio": 0.0,
            "max_ratio": 0.045,
            "flagged_words_dir": None,
            "use_words_aug": False,
            "words_aug_group_sizes": [2],
            "words_aug_join_char": "",
        },
    ),
    "text_entropy_filter": ("text_entropy", {"min_entropy": 2.0, "max_entropy": MAXSIZE}),
}


def S(*texts: str) -> list[Sample]:
    return [Sample(id=str(i), text=t) for i, t in enumerate(texts)]


def stat(name: str, texts: list[str] | tuple[str, ...], params: dict | None = None) -> np.ndarray:
    op = get_op_class(name)(params or {})
    return op.compute_stats(S(*texts))[TEXT_OPS[name][0]].values


@pytest.mark.parametrize("name", sorted(TEXT_OPS))
def test_registered_defaults_and_keys(name: str) -> None:
    cls = get_op_class(name)
    assert issubclass(cls, Filter) and cls.name == name
    key, defaults = TEXT_OPS[name]
    assert cls.stats_keys == (key,)
    dumped = cls().params.model_dump()
    for k, v in defaults.items():
        assert dumped[k] == pytest.approx(v), (name, k)
    assert {t.stat_key for t in cls.thresholds} == {key}
    # thresholds and stat params are disjoint, and stat params exist
    assert not {t.param for t in cls.thresholds} & set(cls.stat_params)
    assert set(cls.stat_params) <= set(dumped)
    assert cls.new_op == (name == "text_entropy_filter")


@pytest.mark.parametrize("name", sorted(TEXT_OPS))
def test_empty_unicode_and_special_tokens(name: str) -> None:
    texts = ["", "héllo wörld 你好 😀 — ça va?", f"{IMAGE_TOKEN}a cat on a mat{EOC_TOKEN}", "a cat on a mat"]
    op = get_op_class(name)()
    st = op.compute_stats(S(*texts))
    vals = st[TEXT_OPS[name][0]].values
    assert vals.shape == (4,) and np.all(np.isfinite(vals))
    assert vals[0] == 0  # Data-Juicer: 0 for an empty text
    assert op.keep(st).shape == (4,)
    # As Data-Juicer, the raw text is measured, special tokens included; the extension leaves them out
    plain = get_op_class(name)({"strip_special_tokens": True})
    pvals = plain.compute_stats(S(*texts))[TEXT_OPS[name][0]].values
    assert pvals[2] == pvals[3]
    reason = plain.dj_unsupported_reason() or ""
    assert ("recipelab-only" if plain.new_op else "strip_special_tokens") in reason


def test_raw_text_is_measured_as_data_juicer() -> None:
    text = f"{IMAGE_TOKEN}a cat on a mat{EOC_TOKEN}"
    assert list(stat("text_length_filter", [text])) == [len(text)]  # 14 + 13 + 13
    # the tokens are words too once special characters ('<', '_', '|') are stripped from the ends
    assert refined_words(text) == ["dj__image>a", "cat", "on", "a", "mat<|__dj__eoc"]
    assert list(stat("words_num_filter", [text])) == [5]


def test_stat_params() -> None:
    sst = "strip_special_tokens"  # extension: every text stat changes with it
    assert get_op_class("words_num_filter").stat_params == ("lang", "tokenization", sst)
    assert set(get_op_class("word_repetition_filter").stat_params) == {"lang", "tokenization", "rep_len", sst}
    assert get_op_class("character_repetition_filter").stat_params == ("rep_len", sst)
    assert get_op_class("alphanumeric_filter").stat_params == ("tokenization", sst)
    assert get_op_class("special_characters_filter").stat_params == (sst,)
    assert {"lang", "use_words_aug", "words_aug_group_sizes", "stopwords_dir"} <= set(
        get_op_class("stopwords_filter").stat_params
    )
    op = get_op_class("word_repetition_filter")({"rep_len": 3, "max_ratio": 0.2})
    assert op.stat_config() == {"lang": "en", "tokenization": False, "rep_len": 3, sst: False}


def test_closed_interval_boundaries() -> None:
    texts = ["one two three", "one two three four", "one two three four five"]
    op = get_op_class("words_num_filter")({"min_num": 3, "max_num": 4})
    stats = op.compute_stats(S(*texts))
    assert list(stats["num_words"].values) == [3, 4, 5]
    assert list(op.keep(stats)) == [True, True, False]
    op = get_op_class("words_num_filter")({"min_num": 4, "max_num": 5})
    assert list(op.keep(stats)) == [False, True, True]
    # a ratio exactly at both bounds
    ratio_op = get_op_class("special_characters_filter")({"min_ratio": 0.5, "max_ratio": 0.5})
    st = ratio_op.compute_stats(S("ab!?", "abc!", "a!!!"))
    assert list(st["special_char_ratio"].values) == [0.5, 0.25, 0.75]
    assert list(ratio_op.keep(st)) == [True, False, False]


def test_words_refinement_like_dj() -> None:
    # split on ' ', '\n', '\t' only; strip special chars from both ends; drop empty words
    assert refined_words("Hello, world!  -- 123 a1b\t(x)\nend.") == ["Hello", "world", "a1b", "x", "end"]
    assert refined_words("ÉTÉ 😀 ok😀", lower_case=True) == ["été", "ok"]
    assert list(stat("words_num_filter", ["Hello, world!  -- 123 a1b\t(x)\nend.", "", "!!! ..."])) == [5, 0, 0]
    # non-breaking space is not a word separator in Data-Juicer
    assert list(stat("words_num_filter", ["a\u00a0b c"])) == [2]


def _dj_word_rep(text: str, n: int) -> float:
    words = refined_words(text, lower_case=True)
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return sum(v for v in grams.values() if v > 1) / total if total else 0.0


def _dj_char_rep(text: str, n: int) -> float:
    grams = Counter(text[i : i + n] for i in range(len(text) - n + 1))
    if not grams:
        return 0.0
    freqs = sorted(grams.values(), reverse=True)
    k = min(int(np.sqrt(len(freqs))), len(freqs) - sum(f == 1 for f in freqs))
    return sum(freqs[:k]) / sum(freqs)


REP_TEXTS = [
    "",
    "short",
    "the cat sat on the mat and the cat sat on the mat again",
    "la la la la la la la la la la la la la la",
    "Buy now! Buy now! Buy now! Buy now! BUY NOW!",
    "ab" * 30,
    "中文字符中文字符中文字符 and 😀😀😀😀😀😀😀😀😀😀😀😀",
    "a unique sentence without much repetition in it at all really",
]


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_repetition_ratios_match_dj_reference(n: int) -> None:
    got_w = stat("word_repetition_filter", REP_TEXTS, {"rep_len": n})
    got_c = stat("character_repetition_filter", REP_TEXTS, {"rep_len": n})
    assert np.allclose(got_w, [_dj_word_rep(t, n) for t in REP_TEXTS], atol=1e-12)
    assert np.allclose(got_c, [_dj_char_rep(t, n) for t in REP_TEXTS], atol=1e-12)


def test_char_ratios() -> None:
    texts = ["abc123", "a b c", "!!!", "Ünïcödé 😀", "£€ ×"]
    alnum = stat("alphanumeric_filter", texts)
    assert np.allclose(alnum, [sum(c.isalnum() for c in t) / len(t) for t in texts])
    special = stat("special_characters_filter", texts)
    assert np.allclose(special, [sum(is_special_char(c) for c in t) / len(t) for t in texts])
    assert special[3] == pytest.approx(2 / 9)  # the space and the emoji


def test_line_lengths() -> None:
    texts = ["abc\ndefgh\n", "one line", "", "a\r\nbb\rccc"]
    assert np.allclose(stat("average_line_length_filter", texts), [10 / 2, 8.0, 0.0, 9 / 3])
    assert list(stat("maximum_line_length_filter", texts)) == [5, 8, 0, 3]


def test_stopwords_and_flagged_words() -> None:
    sw = stat("stopwords_filter", ["The cat is on the mat", "Quantum chromodynamics", ""])
    assert sw[0] == pytest.approx(4 / 6) and sw[1] == 0.0 and sw[2] == 0.0
    fl = stat("flagged_words_filter", ["what the fuck", "a lovely day", "SHIT!"])
    assert list(fl) == pytest.approx([1 / 3, 0.0, 1.0])
    op = get_op_class("flagged_words_filter")()
    assert list(op.keep(op.compute_stats(S("what the fuck", "a lovely day")))) == [False, True]
    lists = load_words_asset("stopwords")
    assert "en" in lists and "all" in lists and lists["en"] <= lists["all"]
    # words augmentation (Data-Juicer's, for languages without spaces) goes through the slow path
    aug = stat("stopwords_filter", ["of the"], {"use_words_aug": True, "words_aug_join_char": " "})
    assert aug[0] == pytest.approx(2 / 3)  # "of", "the" + the pair "of the" (not a stopword)


def test_word_lists_from_dir(tmp_path) -> None:
    (tmp_path / "stopwords_xx.txt").write_text("foo\nbar\n", encoding="utf-8")
    v = stat("stopwords_filter", ["foo baz", "bar foo"], {"lang": "xx", "stopwords_dir": str(tmp_path)})
    assert list(v) == [0.5, 1.0]
    with pytest.raises(ValueError, match="lang"):
        get_op_class("stopwords_filter")({"lang": "zz"})


def test_entropy() -> None:
    texts = ["aaaa", "abab", "abcd", "", "the quick brown fox jumps over the lazy dog"]
    got = stat("text_entropy_filter", texts)

    def ent(t: str) -> float:
        c = Counter(t)
        return -sum(v / len(t) * math.log2(v / len(t)) for v in c.values()) if t else 0.0

    assert np.allclose(got, [ent(t) for t in texts])
    assert list(got[:3]) == pytest.approx([0.0, 1.0, 2.0])
    op = get_op_class("text_entropy_filter")()
    assert list(op.keep(op.compute_stats(S("hahahahaha", "a photo of a red car on the street")))) == [False, True]


def test_tokenization_refused_and_params_validated() -> None:
    for name in ["words_num_filter", "word_repetition_filter", "alphanumeric_filter", "stopwords_filter"]:
        with pytest.raises(ValueError, match="tokeniz"):
            get_op_class(name)({"tokenization": True})
    with pytest.raises(ValidationError):
        get_op_class("word_repetition_filter")({"rep_len": 0})
    with pytest.raises(ValidationError):
        get_op_class("words_num_filter")({"min_words": 3})  # unknown param
