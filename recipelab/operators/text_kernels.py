"""Vectorised text kernels behind the text filters (``operators/text.py``): pure functions of strings and
code point arrays, no op classes.

A batch is turned into one array of code points (plus offsets) once, so character-level stats are numpy
reductions over the whole batch, and n-gram repetition stats are a rolling hash plus one sort, with no
per-character Python loop. Word-level stats use one compiled regex per text, or :class:`WordBatch`.

Word splitting follows Data-Juicer's ``get_words_from_document`` + ``words_refinement``: split on ``' '``,
``'\\n'`` and ``'\\t'`` only, strip Data-Juicer's ``SPECIAL_CHARACTERS`` from both ends of each word, drop
words that become empty.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from recipelab.operators.hashing import HASH_MULT, U64, mix64, span_hashes

RESOURCES_DIR = Path(__file__).parent / "resources"

# --------------------------------------------------------------------------------------------------
# Data-Juicer's SPECIAL_CHARACTERS (data_juicer/ops/common/special_characters.py): ASCII punctuation,
# digits and whitespace, a list of other symbols, and every emoji of the `emoji` package (2.2.0, which
# Data-Juicer 1.6.1 pins). Only single code points can match one character, so the exact set of those is
# shipped in resources/dj_special_characters.json (written from Data-Juicer itself) rather than
# approximated: an approximation by Unicode blocks differed on ~2,000 code points.
# --------------------------------------------------------------------------------------------------
_MAIN_SPECIAL = string.punctuation + string.digits + string.whitespace


def _load_special_characters() -> frozenset[str]:
    data = json.loads((RESOURCES_DIR / "dj_special_characters.json").read_text(encoding="utf-8"))
    return frozenset(chr(c) for c in data["code_points"])


SPECIAL_CHARACTERS: frozenset[str] = _load_special_characters()
#: Kept for callers of the old API: every special character is now in SPECIAL_CHARACTERS itself.
EMOJI_RANGES: tuple[tuple[int, int], ...] = ()


def is_special_char(ch: str) -> bool:
    """Data-Juicer's ``ch in SPECIAL_CHARACTERS``: punctuation, digits and whitespace included."""
    return ch in SPECIAL_CHARACTERS


def _special_class(exclude: str = "") -> str:
    """The body of a regex character class matching SPECIAL_CHARACTERS (minus ``exclude``)."""
    chars = "".join(sorted(c for c in SPECIAL_CHARACTERS if c not in exclude))
    ranges = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in EMOJI_RANGES)
    return re.escape(chars) + ranges


_WORD_SEPARATORS = " \n\t"  # Data-Juicer's split_on_whitespace(new_line=True, tab=True)
# One match per refined word: start at a word start, skip leading special chars, capture up to the last
# non-special char of the same word (trailing special chars are then skipped as non-word-starts).
_REFINED_WORD_RE = re.compile(
    rf"(?<![^ \n\t])[{_special_class(_WORD_SEPARATORS)}]*"
    rf"([^ \n\t]*[^{_special_class(_WORD_SEPARATORS)} \n\t])"
)
_RAW_WORD_RE = re.compile(r"[^ \n\t]+")


def refined_words(text: str, lower_case: bool = False) -> list[str]:
    """Data-Juicer's ``words_refinement(split_on_whitespace(text), lower_case, SPECIAL_CHARACTERS)``."""
    if lower_case:
        text = text.lower()
    return _REFINED_WORD_RE.findall(text)


def raw_words(text: str) -> list[str]:
    """Data-Juicer's ``split_on_whitespace(text, new_line=True, tab=True)``."""
    return _RAW_WORD_RE.findall(text)


# --------------------------------------------------------------------------------------------------
# Batch helpers
# --------------------------------------------------------------------------------------------------
def _lengths(items: Sequence[Sequence[object]] | Sequence[str]) -> np.ndarray:
    return np.fromiter(map(len, items), dtype=np.int64, count=len(items))


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' code points as one uint32 array, and offsets (text ``i`` owns ``cps[o[i]:o[i+1]]``)."""
    joined = "".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps, _offsets(_lengths(texts))


def _segment_sum(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    cs = np.zeros(len(values) + 1, dtype=np.float64 if values.dtype.kind == "f" else np.int64)
    np.cumsum(values, out=cs[1:])
    return cs[offsets[1:]] - cs[offsets[:-1]]


_BMP = 0x10000


@lru_cache(maxsize=8)
def _bmp_table(pred: Callable[[str], bool]) -> np.ndarray:
    """``pred`` evaluated once for every Basic-Multilingual-Plane code point (built once per process)."""
    return np.fromiter((pred(chr(c)) for c in range(_BMP)), dtype=bool, count=_BMP)


def char_flags(cps: np.ndarray, pred: Callable[[str], bool]) -> np.ndarray:
    """``pred(chr(c))`` for every code point: a table lookup for the BMP, per distinct char beyond."""
    table = _bmp_table(pred)
    bmp = cps < _BMP
    if bmp.all():
        return table[cps]
    out = np.empty(len(cps), dtype=bool)
    out[bmp] = table[cps[bmp]]
    astral = cps[~bmp]
    uniq, inv = np.unique(astral, return_inverse=True)
    out[~bmp] = np.fromiter((pred(chr(c)) for c in uniq.tolist()), dtype=bool, count=len(uniq))[inv]
    return out


def count_chars(cps: np.ndarray, offsets: np.ndarray, pred: Callable[[str], bool]) -> np.ndarray:
    """Per text, how many code points satisfy ``pred``."""
    return _segment_sum(char_flags(cps, pred).astype(np.int64), offsets)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0.0 where den == 0 (Data-Juicer's convention for empty texts)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


_U64 = np.uint64


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length of each run of equal values in a sorted array."""
    new = np.ones(len(sorted_keys), dtype=bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(new)
    return starts, np.diff(np.append(starts, len(sorted_keys)))


def _sample_ids(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def ngram_groups(seq: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For every distinct n-gram of every sequence: (sequence index, frequency).

    ``seq`` holds integer symbols of all sequences back to back (``offsets`` as in :func:`codepoints`).
    n-grams are compared through a polynomial hash of mixed symbols; the sequence index and 40 bits of
    that hash are packed into one uint64 so that a single (SIMD) sort groups them. A collision needs two
    distinct n-grams of the same text to share 40 hash bits: negligible at text sizes.
    """
    empty = np.zeros(0, dtype=np.int64)
    m = len(seq) - n + 1
    if m <= 0:
        return empty, empty
    x = mix64(seq)
    h = np.zeros(m, dtype=np.uint64)
    mult = U64(HASH_MULT)
    for k in range(n):
        h = h * mult + x[k : k + m]
    start_sid = _sample_ids(offsets)[:m]
    valid = np.arange(m, dtype=np.int64) + n <= offsets[start_sid + 1]
    sid = start_sid[valid]
    h = h[valid]
    if len(h) == 0:
        return empty, empty
    if len(offsets) - 1 < (1 << 24):
        keys = np.sort((sid.astype(np.uint64) << U64(40)) | (h >> U64(24)))
        starts, freq = _runs(keys)
        return (keys[starts] >> U64(40)).astype(np.int64), freq
    order = np.lexsort((h, sid))  # huge batch: exact 64-bit keys, slower sort
    sid, h = sid[order], h[order]
    new = np.ones(len(h), dtype=bool)
    new[1:] = (sid[1:] != sid[:-1]) | (h[1:] != h[:-1])
    starts = np.flatnonzero(new)
    return sid[starts], np.diff(np.append(starts, len(h)))


def _is_word_separator(ch: str) -> bool:
    return ch in _WORD_SEPARATORS


class WordBatch:
    """Refined words of a batch of texts, as spans into one code point array, with a 64-bit hash each.

    Same words as :func:`refined_words` (Data-Juicer's split + ``words_refinement``), computed with array
    operations over the whole batch: a word is a maximal run of non-separators; its refined form spans
    from its first to its last non-special char; a run of special chars only is no word.
    """

    def __init__(self, texts: Sequence[str], lower_case: bool = False) -> None:
        if lower_case:
            texts = [t.lower() for t in texts]
        cps, offsets = codepoints(texts)
        self.n_texts = len(texts)
        sep = char_flags(cps, _is_word_separator)
        good = ~char_flags(cps, is_special_char)  # a good char is never a separator
        prev_sep = np.ones(len(cps), dtype=bool)
        prev_sep[1:] = sep[:-1]
        prev_sep[offsets[:-1][offsets[:-1] < len(cps)]] = True  # a text start starts a word
        token_id = np.cumsum(~sep & prev_sep)
        gpos = np.flatnonzero(good)
        tid = token_id[gpos]
        starts, counts = _runs(tid)
        self.begin = gpos[starts]
        self.end = gpos[starts + counts - 1] + 1
        self.word_sid = np.searchsorted(offsets, self.begin, side="right") - 1
        self.counts = np.bincount(self.word_sid, minlength=self.n_texts).astype(np.int64)
        self.offsets = _offsets(self.counts)
        self._cps = cps

    def hashes(self) -> np.ndarray:
        """A 64-bit hash per word (equal words, equal hashes)."""
        return span_hashes(self._cps, self.begin, self.end)


@lru_cache(maxsize=16)
def _word_hash_set(words: frozenset[str]) -> np.ndarray:
    ordered = sorted(words)
    cps, offsets = codepoints(ordered)
    return np.unique(span_hashes(cps, offsets[:-1], offsets[1:]))


# --------------------------------------------------------------------------------------------------
# Word lists (stopwords / flagged words)
# --------------------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def load_words_asset(words_type: str, words_dir: str | None = None) -> dict[str, frozenset[str]]:
    """``{lang: words}`` from ``<words_type>_<lang>.txt`` files (one word a line) and from Data-Juicer's
    JSON assets (files whose name contains ``words_type``, each ``{lang: [words]}``); plus ``"all"``."""
    directory = Path(words_dir) if words_dir else RESOURCES_DIR
    if not directory.is_dir():
        raise ValueError(f"{words_type} directory {str(directory)!r} does not exist")
    found: dict[str, set[str]] = {}
    for path in sorted(directory.iterdir()):
        if words_type not in path.name:
            continue
        if path.suffix == ".txt" and path.stem.startswith(words_type + "_"):
            lang = path.stem[len(words_type) + 1 :]
            words = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
            found.setdefault(lang, set()).update(w for w in words if w and not w.startswith("#"))
        elif path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            for lang, words in data.items():
                found.setdefault(lang, set()).update(words)
    if not found:
        raise ValueError(f"no {words_type} lists found in {str(directory)!r}")
    out = {lang: frozenset(ws) for lang, ws in found.items()}
    if "all" not in out:
        out["all"] = frozenset().union(*found.values())
    return out


def _words_aug(words: list[str], group_sizes: Sequence[int], join_char: str) -> list[str]:
    aug = [join_char.join(words[i : i + g]) for g in group_sizes for i in range(len(words) - g + 1)]
    return words + aug


# --------------------------------------------------------------------------------------------------
# Per-text stats over a batch (one value per text)
# --------------------------------------------------------------------------------------------------
def word_repetition_ratio(texts: Sequence[str], n: int) -> np.ndarray:
    """Per text: (occurrences of lower-cased refined word n-grams that occur more than once) / (all word
    n-grams); 0.0 when the text has fewer than ``n`` words."""
    words = WordBatch(texts, lower_case=True)
    sid, freq = ngram_groups(words.hashes(), words.offsets, n)
    k = len(texts)
    rep = np.bincount(sid, weights=np.where(freq > 1, freq, 0), minlength=k)
    total = np.bincount(sid, weights=freq, minlength=k)
    return _ratio(rep, total)


def character_repetition_ratio(texts: Sequence[str], n: int) -> np.ndarray:
    """Per text, as Data-Juicer: with the distinct char n-grams sorted by frequency, (occurrences of the top
    ``min(floor(sqrt(#distinct)), #distinct repeated)`` n-grams) / (all n-grams)."""
    k = len(texts)
    cps, offsets = codepoints(texts)
    sid, freq = ngram_groups(cps, offsets, n)
    n_distinct = np.bincount(sid, minlength=k)
    n_single = np.bincount(sid, weights=freq == 1, minlength=k).astype(np.int64)
    total = np.bincount(sid, weights=freq, minlength=k)
    n_top = np.minimum(np.floor(np.sqrt(n_distinct)).astype(np.int64), n_distinct - n_single)
    order = np.lexsort((-freq, sid))
    sid_o, freq_o = sid[order], freq[order]
    first = _offsets(n_distinct)[:-1]
    rank = np.arange(len(sid_o), dtype=np.int64) - first[sid_o]
    take = rank < n_top[sid_o]
    top = np.bincount(sid_o[take], weights=freq_o[take], minlength=k)
    return _ratio(top, total)


def char_ratio(texts: Sequence[str], pred: Callable[[str], bool]) -> np.ndarray:
    """Per text, the share of its characters that satisfy ``pred`` (0.0 for an empty text)."""
    cps, offsets = codepoints(texts)
    return _ratio(count_chars(cps, offsets, pred), np.diff(offsets))


def average_line_length(texts: Sequence[str]) -> np.ndarray:
    """Per text, its length / its number of ``str.splitlines()`` lines; 0.0 for an empty text."""
    lens = _lengths(texts)
    n_lines = np.fromiter((len(t.splitlines()) for t in texts), dtype=np.int64, count=len(texts))
    return _ratio(lens, n_lines)


def maximum_line_length(texts: Sequence[str]) -> np.ndarray:
    """Per text, the length of its longest ``str.splitlines()`` line; 0 for an empty text."""
    return np.fromiter((max(map(len, t.splitlines()), default=0) for t in texts), dtype=np.int64, count=len(texts))


def words_list_ratio(texts: Sequence[str], words_set: frozenset[str]) -> np.ndarray:
    """Per text, the share of its lower-cased refined words that are in ``words_set`` (at most 1.0)."""
    words = WordBatch(texts, lower_case=True)
    hit = np.isin(words.hashes(), _word_hash_set(words_set))
    n_hit = np.bincount(words.word_sid[hit], minlength=len(texts))
    return np.minimum(_ratio(n_hit, words.counts), 1.0)


def words_list_ratio_aug(
    texts: Sequence[str], words_set: frozenset[str], group_sizes: Sequence[int], join_char: str
) -> np.ndarray:
    """:func:`words_list_ratio` over the words plus their joined groups of ``group_sizes`` words (one text at
    a time, as Data-Juicer's ``words_augmentation``)."""
    out = np.zeros(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        words = _words_aug(refined_words(text, lower_case=True), group_sizes, join_char)
        if words:
            out[i] = min(sum(map(words_set.__contains__, words)) / len(words), 1.0)
    return out


def char_entropy(texts: Sequence[str]) -> np.ndarray:
    """Per text, the Shannon entropy (bits per character) of its character distribution; 0.0 when empty."""
    k = len(texts)
    cps, offsets = codepoints(texts)
    out = np.zeros(k, dtype=np.float64)
    if len(cps) == 0:
        return out
    lens = np.diff(offsets)
    # dense ids of the distinct code points, without an argsort
    present = np.zeros(int(cps.max()) + 1, dtype=np.int64)
    present[cps] = 1
    dense = (np.cumsum(present) - 1)[cps]
    n_distinct = int(present.sum())
    keys = np.sort(_sample_ids(offsets) * n_distinct + dense)
    starts, counts = _runs(keys)
    ksid = keys[starts] // n_distinct
    p = counts / lens[ksid]
    out = np.bincount(ksid, weights=-p * np.log2(p), minlength=k)
    return np.maximum(out, 0.0)


__all__ = [
    "EMOJI_RANGES",
    "RESOURCES_DIR",
    "SPECIAL_CHARACTERS",
    "WordBatch",
    "average_line_length",
    "char_entropy",
    "char_flags",
    "char_ratio",
    "character_repetition_ratio",
    "codepoints",
    "count_chars",
    "is_special_char",
    "load_words_asset",
    "maximum_line_length",
    "ngram_groups",
    "raw_words",
    "refined_words",
    "word_repetition_ratio",
    "words_list_ratio",
    "words_list_ratio_aug",
]
