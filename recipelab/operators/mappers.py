"""Text mappers with Data-Juicer names and params (data_juicer/ops/mapper).

Every mapper rewrites only the text *between* Data-Juicer's special tokens (``<__dj__image>``,
``<__dj__video>``, ``<|__dj__eoc|>``), so the tokens, which tie images to chunks, always survive intact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import field_validator

from recipelab.data.sample import SPECIAL_TOKENS
from recipelab.operators.base import Mapper, OpParams
from recipelab.operators.registry import register

_TOKEN_SPLIT_RE = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")


def map_outside_tokens(text: str, fn: Callable[[str], str]) -> str:
    """Apply ``fn`` to each stretch of ``text`` between special tokens; the tokens are kept as they are."""
    if "__dj__" not in text:
        return fn(text)
    parts = _TOKEN_SPLIT_RE.split(text)
    # odd indices are the tokens themselves
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def _dj_pattern(pattern: str) -> str:
    """Data-Juicer accepts patterns written as Python raw-string literals (``r'...'``): unwrap them."""
    if len(pattern) > 2 and (
        (pattern.startswith("r'") and pattern.endswith("'")) or (pattern.startswith('r"') and pattern.endswith('"'))
    ):
        return pattern[2:-1]
    return pattern


# --------------------------------------------------------------------------------------------------
# whitespace_normalization_mapper
# --------------------------------------------------------------------------------------------------
#: Data-Juicer's VARIOUS_WHITESPACES (https://en.wikipedia.org/wiki/Whitespace_character), all -> ' '.
VARIOUS_WHITESPACES = frozenset(
    " \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
    "\u200b\u200c\u200d\u2060\ufffc\u0084"
)
_WHITESPACE_TABLE = str.maketrans({c: " " for c in VARIOUS_WHITESPACES})


@register
class WhitespaceNormalizationMapper(Mapper):
    """Strip the text, then replace every kind of Unicode whitespace (incl. zero-width ones) by ' '.
    Newlines are kept, as in Data-Juicer."""

    name = "whitespace_normalization_mapper"
    summary = "normalise unicode whitespace to ' ' and strip the text"
    Params = OpParams

    def process_texts(self, texts: list[str]) -> list[str]:
        return [map_outside_tokens(t.strip(), lambda s: s.translate(_WHITESPACE_TABLE)) for t in texts]


# --------------------------------------------------------------------------------------------------
# clean_links_mapper / clean_email_mapper
# --------------------------------------------------------------------------------------------------
_LINK_PATTERN = (
    r"(?i)\b("
    r"(?:[a-z][\w-]+:(?:\/{1,3}|[a-z0-9%])|www\d{0,3}[.]|[a-z0-9.\-]+[.][a-z]{2,4}\/)"
    r"(?:[^\s()<>]+|\(([^\s()<>]+|(\([^\s()<>]+\)))*\))+"
    r"(?:\(([^\s()<>]+|(\([^\s()<>]+\)))*\)|[^\s`!()\[\]{};:'\".,<>?«»“”‘’])"
    r")"
)
_EMAIL_PATTERN = r"[A-Za-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+"


class RegexCleanParams(OpParams):
    pattern: str | None = None
    repl: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(_dj_pattern(v))
            except re.error as e:
                raise ValueError(f"invalid regular expression {v!r}: {e}") from e
        return v


class _RegexCleanMapper(Mapper):
    default_pattern: str = ""
    Params = RegexCleanParams

    def process_texts(self, texts: list[str]) -> list[str]:
        p = self.params
        pat = re.compile(_dj_pattern(p.pattern) if p.pattern is not None else self.default_pattern, re.DOTALL)
        repl = p.repl

        def clean(s: str) -> str:
            return pat.sub(repl, s) if pat.search(s) else s

        return [map_outside_tokens(t, clean) for t in texts]


@register
class CleanLinksMapper(_RegexCleanMapper):
    """Replace links (http/https/ftp/..., www., domain/path) by ``repl`` (default: remove them)."""

    name = "clean_links_mapper"
    summary = "remove links (http/https/ftp/www...)"
    default_pattern = _LINK_PATTERN


@register
class CleanEmailMapper(_RegexCleanMapper):
    """Replace e-mail addresses by ``repl`` (default: remove them)."""

    name = "clean_email_mapper"
    summary = "remove e-mail addresses"
    default_pattern = _EMAIL_PATTERN


# --------------------------------------------------------------------------------------------------
# punctuation_normalization_mapper
# --------------------------------------------------------------------------------------------------
#: Data-Juicer's table (from BigScience data-preparation), kept as is, '１' -> '"' included.
PUNCTUATION_UNICODE = {
    "，": ",",
    "。": ".",
    "、": ",",
    "„": '"',
    "”": '"',
    "“": '"',
    "«": '"',
    "»": '"',
    "１": '"',
    "」": '"',
    "「": '"',
    "《": '"',
    "》": '"',
    "´": "'",
    "∶": ":",
    "：": ":",
    "？": "?",
    "！": "!",
    "（": "(",
    "）": ")",
    "；": ";",
    "–": "-",
    "—": " - ",
    "．": ". ",
    "～": "~",
    "’": "'",
    "…": "...",
    "━": "-",
    "〈": "<",
    "〉": ">",
    "【": "[",
    "】": "]",
    "％": "%",
    "►": "-",
}
_PUNCT_TABLE = str.maketrans(PUNCTUATION_UNICODE)


@register
class PunctuationNormalizationMapper(Mapper):
    """Map unicode punctuation (full-width, typographic quotes, dashes...) to English punctuation."""

    name = "punctuation_normalization_mapper"
    summary = "normalise unicode punctuation to ASCII punctuation"
    Params = OpParams

    def process_texts(self, texts: list[str]) -> list[str]:
        return [map_outside_tokens(t, lambda s: s.translate(_PUNCT_TABLE)) for t in texts]


# --------------------------------------------------------------------------------------------------
# fix_unicode_mapper
# --------------------------------------------------------------------------------------------------
class FixUnicodeParams(OpParams):
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = "NFC"

    @field_validator("normalization", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        if v is None or v == "":
            return "NFC"  # Data-Juicer: no/empty normalization means NFC
        return v.upper() if isinstance(v, str) else v


@register
class FixUnicodeMapper(Mapper):
    """Fix mojibake and other unicode errors with ``ftfy.fix_text``, applying ``normalization`` (one of
    NFC, NFKC, NFD, NFKD; NFC by default)."""

    name = "fix_unicode_mapper"
    summary = "fix broken unicode (mojibake) with ftfy"
    Params = FixUnicodeParams

    def process_texts(self, texts: list[str]) -> list[str]:
        import ftfy

        form = self.params.normalization or "NFC"

        def fix(text: str) -> str:
            # Whole text first, as Data-Juicer does (ftfy's heuristics look at the whole string); only
            # if that altered a special token, fix the stretches between tokens instead.
            fixed = ftfy.fix_text(text, normalization=form)
            if "__dj__" in text and _token_sequence(fixed) != _token_sequence(text):
                fixed = map_outside_tokens(text, lambda s: ftfy.fix_text(s, normalization=form))
            return fixed

        return [fix(t) for t in texts]


def _token_sequence(text: str) -> list[str]:
    return _TOKEN_SPLIT_RE.findall(text)


__all__ = [
    "CleanEmailMapper",
    "CleanLinksMapper",
    "FixUnicodeMapper",
    "PunctuationNormalizationMapper",
    "VARIOUS_WHITESPACES",
    "WhitespaceNormalizationMapper",
    "map_outside_tokens",
]
