"""Name -> operator class, as Data-Juicer's OPERATORS registry, plus close-match error messages."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from recipelab.operators.base import Operator

_REGISTRY: dict[str, type[Operator]] = {}

T = TypeVar("T", bound=type[Operator])


class UnknownOperatorError(KeyError):
    """An op name that is not registered; the message names the closest registered names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register(cls: T) -> T:
    """Class decorator: make an op findable by its Data-Juicer name."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"operator {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def _ensure_loaded() -> None:
    # Importing the families registers their ops; done lazily to keep `import recipelab` cheap.
    from recipelab.operators import dedup, image, image_text, mappers, text  # noqa: F401


def all_ops() -> dict[str, type[Operator]]:
    _ensure_loaded()
    return dict(sorted(_REGISTRY.items()))


def get_op_class(name: str) -> type[Operator]:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `recipelab ops list`"
        raise UnknownOperatorError(f"unknown operator {name!r}{hint}") from None


def create_op(name: str, params: dict[str, Any] | None = None) -> Operator:
    cls = get_op_class(name)
    return cls(params or {})
