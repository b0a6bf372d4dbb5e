"""Text mappers: Data-Juicer behaviour, and special tokens always survive."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recipelab.data.sample import EOC_TOKEN, IMAGE_TOKEN
from recipelab.operators.base import Mapper
from recipelab.operators.registry import get_op_class

MAPPERS = [
    "whitespace_normalization_mapper",
    "clean_links_mapper",
    "clean_email_mapper",
    "punctuation_normalization_mapper",
    "fix_unicode_mapper",
]


def run(name: str, texts: list[str], params: dict | None = None) -> list[str]:
    return get_op_class(name)(params or {}).process_texts(texts)


@pytest.mark.parametrize("name", MAPPERS)
def test_registered_and_keeps_special_tokens(name: str) -> None:
    cls = get_op_class(name)
    assert issubclass(cls, Mapper) and cls.name == name
    text = (
        f"{IMAGE_TOKEN}\u3000Visit https://example.com/a?b=1{IMAGE_TOKEN} or mail me@x.org，"
        f"â€œquotedâ€\u009d{EOC_TOKEN} next chunk{EOC_TOKEN}"
    )
    out = cls().process_texts([text, "", "plain"])
    assert len(out) == 3
    assert out[0].count(IMAGE_TOKEN) == 2 and out[0].count(EOC_TOKEN) == 2
    assert out[1] == ""


def test_whitespace_normalization() -> None:
    out = run("whitespace_normalization_mapper", ["  a\u00a0b\u2009c\u200bd\u3000e\n f\t "])
    assert out == ["a b c d e\n f"]  # strip, every unicode space -> ' ', newline kept


def test_clean_links() -> None:
    texts = [
        "see https://www.example.com/path?q=1 now",
        "ftp://files.example.org/x.txt and www.test.com",
        "no link here, e.g. a.b",
    ]
    assert run("clean_links_mapper", texts) == ["see  now", " and ", "no link here, e.g. a.b"]
    assert run("clean_links_mapper", ["go to http://a.com"], {"repl": "<URL>"}) == ["go to <URL>"]
    assert run("clean_links_mapper", ["x123y"], {"pattern": r"r'\d+'"}) == ["xy"]


def test_clean_email() -> None:
    assert run("clean_email_mapper", ["contact john.doe+x@mail.example.com today"]) == ["contact  today"]
    assert run("clean_email_mapper", ["a@b.co"], {"repl": "[EMAIL]"}) == ["[EMAIL]"]
    assert run("clean_email_mapper", ["not an email: a@b"]) == ["not an email: a@b"]


def test_punctuation_normalization() -> None:
    out = run("punctuation_normalization_mapper", ["你好，世界。「引用」…【a】—b"])
    assert out == ['你好,世界."引用"...[a] - b']


def test_fix_unicode() -> None:
    assert run("fix_unicode_mapper", ["The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows."]) == [
        "The Mona Lisa doesn't have eyebrows."
    ]
    # NFC by default; NFD on request
    assert run("fix_unicode_mapper", ["e\u0301"]) == ["\u00e9"]
    assert run("fix_unicode_mapper", ["\u00e9"], {"normalization": "nfd"}) == ["e\u0301"]
    assert get_op_class("fix_unicode_mapper")({"normalization": None}).params.normalization == "NFC"
    with pytest.raises(ValidationError):
        get_op_class("fix_unicode_mapper")({"normalization": "NFX"})


def test_defaults() -> None:
    assert get_op_class("clean_links_mapper")().params.model_dump() == {"pattern": None, "repl": ""}
    assert get_op_class("clean_email_mapper")().params.model_dump() == {"pattern": None, "repl": ""}
    assert get_op_class("fix_unicode_mapper")().params.model_dump() == {"normalization": "NFC"}
    with pytest.raises(ValidationError):
        get_op_class("clean_links_mapper")({"pattern": "("})
