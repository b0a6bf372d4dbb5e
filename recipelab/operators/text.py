"""Text filters with Data-Juicer names, stat keys, params and defaults (data_juicer/ops/filter).

Stats are computed, as in Data-Juicer, on the raw text: its special tokens (``<__dj__image>``,
``<|__dj__eoc|>``) count as characters and words, so a caption with two image tokens is 26 characters
longer than without. ``strip_special_tokens=True`` (a recipelab extension, off by default, never
exported to a Data-Juicer config) measures the text without them instead. Stats are batched; the
vectorised kernels (code point arrays, rolling n-gram hashes, word splitting, word lists) live in
:mod:`recipelab.operators.text_kernels`, and this module keeps the op classes: params, registration,
stat keys and thresholds. The kernels' public names stay importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field, field_validator, model_validator

from recipelab.data.sample import Sample
from recipelab.operators.base import MAXSIZE, Filter, FilterParams, OpParams, Stat, Stats, Threshold
from recipelab.operators.registry import register
from recipelab.operators.text_kernels import (
    EMOJI_RANGES,
    RESOURCES_DIR,
    SPECIAL_CHARACTERS,
    WordBatch,
    average_line_length,
    char_entropy,
    char_flags,
    char_ratio,
    character_repetition_ratio,
    codepoints,
    count_chars,
    is_special_char,
    load_words_asset,
    maximum_line_length,
    ngram_groups,
    raw_words,
    refined_words,
    word_repetition_ratio,
    words_list_ratio,
    words_list_ratio_aug,
)


def _texts(samples: Sequence[Sample], params: OpParams) -> list[str]:
    """The texts a text filter measures: raw (Data-Juicer), or without special tokens when opted in."""
    if getattr(params, "strip_special_tokens", False):
        return [s.plain_text() for s in samples]
    return [s.text for s in samples]


# --------------------------------------------------------------------------------------------------
# Shared param pieces
# --------------------------------------------------------------------------------------------------
def _no_tokenization(value: bool) -> bool:
    if value:
        raise ValueError(
            "tokenization=True needs Data-Juicer's downloaded tokenizer model (sentencepiece / "
            "EleutherAI/pythia), which recipelab does not fetch; use tokenization=False"
        )
    return value


class _TextParams(FilterParams):
    #: Extension (not in Data-Juicer): measure the text without Data-Juicer's special tokens. Off by
    #: default, as Data-Juicer measures the raw text; changes the stat.
    strip_special_tokens: bool = False


class _TextFilter(Filter):
    """A text filter: measures ``_texts(samples)``; ``strip_special_tokens`` is its one extension."""

    extension_params = ("strip_special_tokens",)
    stat_params = ("strip_special_tokens",)

    def texts(self, samples: Sequence[Sample]) -> list[str]:
        return _texts(samples, self.params)


class _TokenizationParams(_TextParams):
    tokenization: bool = False

    @field_validator("tokenization")
    @classmethod
    def _check_tokenization(cls, v: bool) -> bool:
        return _no_tokenization(v)


class _RatioBounds(_TextParams):
    min_ratio: float = 0.0
    max_ratio: float = 0.5


def _ratio_thresholds(key: str) -> tuple[Threshold, Threshold]:
    return (Threshold("min_ratio", key, "min"), Threshold("max_ratio", key, "max"))


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------
class TextLengthParams(_TextParams):
    min_len: int = 10
    max_len: int = MAXSIZE


@register
class TextLengthFilter(_TextFilter):
    """Keep samples whose text length in characters is in [min_len, max_len].

    As Data-Juicer: ``len(text)`` of the raw text, so ``<__dj__image>`` (13 chars) and ``<|__dj__eoc|>``
    (13 chars) count; ``strip_special_tokens=True`` leaves them out (extension)."""

    name = "text_length_filter"
    summary = "text length in characters within [min_len, max_len]"
    Params = TextLengthParams
    stats_keys = ("text_len",)
    thresholds = (Threshold("min_len", "text_len", "min"), Threshold("max_len", "text_len", "max"))

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        lens = np.fromiter(map(len, self.texts(samples)), dtype=np.int64, count=len(samples))
        return {"text_len": Stat(lens)}


class WordsNumParams(_TokenizationParams):
    lang: str = "en"
    min_num: int = 10
    max_num: int = MAXSIZE


@register
class WordsNumFilter(_TextFilter):
    """Keep samples whose number of words is in [min_num, max_num].

    Words: split on space/newline/tab, special characters stripped from both ends, empty words dropped
    (Data-Juicer's ``words_refinement``)."""

    name = "words_num_filter"
    summary = "number of words within [min_num, max_num]"
    Params = WordsNumParams
    stats_keys = ("num_words",)
    thresholds = (Threshold("min_num", "num_words", "min"), Threshold("max_num", "num_words", "max"))
    stat_params = ("lang", "tokenization", "strip_special_tokens")

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"num_words": Stat(WordBatch(self.texts(samples)).counts)}


class WordRepetitionParams(_TokenizationParams, _RatioBounds):
    lang: str = "en"
    rep_len: int = Field(10, gt=0)


@register
class WordRepetitionFilter(_TextFilter):
    """Keep samples whose word-level n-gram repetition ratio is in [min_ratio, max_ratio].

    Ratio = (occurrences of word n-grams that occur more than once) / (all word n-grams), n = rep_len, on
    lower-cased refined words; 0.0 when the text has fewer than rep_len words."""

    name = "word_repetition_filter"
    summary = "share of repeated word n-grams within [min_ratio, max_ratio]"
    Params = WordRepetitionParams
    stats_keys = ("word_rep_ratio",)
    thresholds = _ratio_thresholds("word_rep_ratio")
    stat_params = ("lang", "tokenization", "rep_len", "strip_special_tokens")

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"word_rep_ratio": Stat(word_repetition_ratio(self.texts(samples), self.params.rep_len))}


class CharacterRepetitionParams(_RatioBounds):
    rep_len: int = Field(10, gt=0)


@register
class CharacterRepetitionFilter(_TextFilter):
    """Keep samples whose char-level n-gram repetition ratio is in [min_ratio, max_ratio].

    As Data-Juicer: with the distinct char n-grams (n = rep_len) sorted by frequency, ratio = (occurrences
    of the top ``min(floor(sqrt(#distinct)), #distinct repeated)`` n-grams) / (all n-grams)."""

    name = "character_repetition_filter"
    summary = "share of the most repeated char n-grams within [min_ratio, max_ratio]"
    Params = CharacterRepetitionParams
    stats_keys = ("char_rep_ratio",)
    thresholds = _ratio_thresholds("char_rep_ratio")
    stat_params = ("rep_len", "strip_special_tokens")

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        ratios = character_repetition_ratio(self.texts(samples), self.params.rep_len)
        return {"char_rep_ratio": Stat(ratios)}


class SpecialCharactersParams(_RatioBounds):
    max_ratio: float = 0.25


@register
class SpecialCharactersFilter(_TextFilter):
    """Keep samples whose share of special characters is in [min_ratio, max_ratio].

    Matches Data-Juicer, including what reads like a bug there: its ``SPECIAL_CHARACTERS`` holds ASCII
    digits and whitespace besides punctuation, symbols and emoji, so "room 101 on floor 3" scores 0.3
    and a plain sentence's spaces alone give ~0.15. Thresholds must be read with that in mind (the
    default ``max_ratio=0.25`` already is). The set is Data-Juicer's exact one (with ``emoji`` 2.2.0)."""

    name = "special_characters_filter"
    summary = "share of special characters within [min_ratio, max_ratio]"
    Params = SpecialCharactersParams
    stats_keys = ("special_char_ratio",)
    thresholds = _ratio_thresholds("special_char_ratio")

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"special_char_ratio": Stat(char_ratio(self.texts(samples), is_special_char))}


class AlphanumericParams(_TokenizationParams):
    min_ratio: float = 0.25
    max_ratio: float = float(MAXSIZE)


@register
class AlphanumericFilter(_TextFilter):
    """Keep samples whose share of alphanumeric characters (``str.isalnum``) is in [min_ratio, max_ratio].

    Data-Juicer's ``tokenization=True`` variant (``alpha_token_ratio``, letters per Pythia token) needs a
    downloaded tokenizer and is refused."""

    name = "alphanumeric_filter"
    summary = "share of alphanumeric characters within [min_ratio, max_ratio]"
    Params = AlphanumericParams
    stats_keys = ("alnum_ratio",)
    thresholds = _ratio_thresholds("alnum_ratio")
    stat_params = ("tokenization", "strip_special_tokens")

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"alnum_ratio": Stat(char_ratio(self.texts(samples), str.isalnum))}


class LineLengthParams(_TextParams):
    min_len: int = 10
    max_len: int = MAXSIZE


@register
class AverageLineLengthFilter(_TextFilter):
    """Keep samples whose average line length (text length / number of ``str.splitlines()`` lines) is in
    [min_len, max_len]; 0.0 for an empty text."""

    name = "average_line_length_filter"
    summary = "average line length within [min_len, max_len]"
    Params = LineLengthParams
    stats_keys = ("avg_line_length",)
    thresholds = (
        Threshold("min_len", "avg_line_length", "min"),
        Threshold("max_len", "avg_line_length", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"avg_line_length": Stat(average_line_length(self.texts(samples)))}


@register
class MaximumLineLengthFilter(_TextFilter):
    """Keep samples whose longest line (``str.splitlines()``) has a length in [min_len, max_len]."""

    name = "maximum_line_length_filter"
    summary = "longest line length within [min_len, max_len]"
    Params = LineLengthParams
    stats_keys = ("max_line_length",)
    thresholds = (
        Threshold("min_len", "max_line_length", "min"),
        Threshold("max_len", "max_line_length", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"max_line_length": Stat(maximum_line_length(self.texts(samples)))}


_WORDS_AUG_PARAMS = ("use_words_aug", "words_aug_group_sizes", "words_aug_join_char")


class _WordsListParams(_TokenizationParams):
    lang: str = "en"
    use_words_aug: bool = False
    words_aug_group_sizes: list[int] = Field(default_factory=lambda: [2])
    words_aug_join_char: str = ""

    @field_validator("words_aug_group_sizes")
    @classmethod
    def _positive_sizes(cls, v: list[int]) -> list[int]:
        if any(g <= 0 for g in v):
            raise ValueError("words_aug_group_sizes must be positive integers")
        return v


class _WordsListFilter(_TextFilter):
    """Share of (lower-cased, refined, optionally augmented) words that are in a word list."""

    words_type: str = ""
    dir_param: str = ""

    def __init__(self, params=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(params)
        self._word_set()  # fail early on an unknown lang or a bad directory

    def _word_set(self) -> frozenset[str]:
        lists = load_words_asset(self.words_type, getattr(self.params, self.dir_param))
        lang = self.params.lang
        if lang not in lists:
            raise ValueError(f"{self.name}: no {self.words_type} list for lang={lang!r}; have {sorted(lists)}")
        return lists[lang]

    def _ratios(self, samples: Sequence[Sample]) -> np.ndarray:
        words_set = self._word_set()
        p = self.params
        texts = self.texts(samples)
        if not p.use_words_aug:
            return words_list_ratio(texts, words_set)
        return words_list_ratio_aug(texts, words_set, p.words_aug_group_sizes, p.words_aug_join_char)


class StopwordsParams(_WordsListParams):
    min_ratio: float = 0.3
    max_ratio: float = 1.0
    stopwords_dir: str | None = None


@register
class StopWordsFilter(_WordsListFilter):
    """Keep samples whose stopword ratio is in [min_ratio, max_ratio] (``lang='all'``: union of lists).

    ``stopwords_dir`` (default: the bundled lists) holds ``stopwords_<lang>.txt`` files or Data-Juicer's
    JSON assets."""

    name = "stopwords_filter"
    summary = "share of stopwords within [min_ratio, max_ratio]"
    Params = StopwordsParams
    stats_keys = ("stopwords_ratio",)
    thresholds = _ratio_thresholds("stopwords_ratio")
    stat_params = ("lang", "tokenization", "stopwords_dir", *_WORDS_AUG_PARAMS, "strip_special_tokens")
    words_type = "stopwords"
    dir_param = "stopwords_dir"

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"stopwords_ratio": Stat(self._ratios(samples))}


class FlaggedWordsParams(_WordsListParams):
    min_ratio: float = 0.0
    max_ratio: float = 0.045
    flagged_words_dir: str | None = None


@register
class FlaggedWordFilter(_WordsListFilter):
    """Keep samples whose flagged-word ratio is in [min_ratio, max_ratio] (``lang='all'``: union).

    ``flagged_words_dir`` (default: the bundled lists) holds ``flagged_words_<lang>.txt`` files or
    Data-Juicer's JSON assets."""

    name = "flagged_words_filter"
    summary = "share of flagged (obscene) words within [min_ratio, max_ratio]"
    Params = FlaggedWordsParams
    stats_keys = ("flagged_words_ratio",)
    thresholds = _ratio_thresholds("flagged_words_ratio")
    stat_params = ("lang", "tokenization", "flagged_words_dir", *_WORDS_AUG_PARAMS, "strip_special_tokens")
    words_type = "flagged_words"
    dir_param = "flagged_words_dir"

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"flagged_words_ratio": Stat(self._ratios(samples))}


class TextEntropyParams(_TextParams):
    min_entropy: float = 2.0
    max_entropy: float = float(MAXSIZE)

    @model_validator(mode="after")
    def _ordered(self) -> TextEntropyParams:
        if self.min_entropy > self.max_entropy:
            raise ValueError("min_entropy must be <= max_entropy")
        return self


@register
class TextEntropyFilter(_TextFilter):
    """Keep samples whose character entropy (Shannon, bits per character, of the text's character
    distribution; 0.0 for an empty text) is in [min_entropy, max_entropy].

    Not in Data-Juicer. Low values flag degenerate texts ("aaaa", "hahaha", "!!!!"); the entropy of a
    text is at most log2(its length), so very short texts score low too."""

    name = "text_entropy_filter"
    summary = "character entropy in bits/char within [min_entropy, max_entropy]"
    new_op = True
    Params = TextEntropyParams
    stats_keys = ("text_entropy",)
    thresholds = (
        Threshold("min_entropy", "text_entropy", "min"),
        Threshold("max_entropy", "text_entropy", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        return {"text_entropy": Stat(char_entropy(self.texts(samples)))}


__all__ = [
    "AlphanumericFilter",
    "AverageLineLengthFilter",
    "CharacterRepetitionFilter",
    "EMOJI_RANGES",
    "FlaggedWordFilter",
    "MaximumLineLengthFilter",
    "RESOURCES_DIR",
    "SPECIAL_CHARACTERS",
    "SpecialCharactersFilter",
    "StopWordsFilter",
    "TextEntropyFilter",
    "TextLengthFilter",
    "WordRepetitionFilter",
    "WordBatch",
    "WordsNumFilter",
    "char_flags",
    "codepoints",
    "count_chars",
    "is_special_char",
    "load_words_asset",
    "ngram_groups",
    "raw_words",
    "refined_words",
]
