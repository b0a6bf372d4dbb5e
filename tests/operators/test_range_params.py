"""Data-Juicer's Filter range params (min_closed_interval, max_closed_interval, reversed_range): accepted by
every filter with Data-Juicer's meaning (data_juicer/ops/base_op.py ``get_keep_boolean``)."""

from __future__ import annotations

import numpy as np
import pytest

from recipelab.operators.base import DJ_RANGE_DEFAULTS, Filter, Stat
from recipelab.operators.registry import all_ops, get_op_class


@pytest.mark.parametrize("name", sorted(n for n, c in all_ops().items() if issubclass(c, Filter)))
def test_every_filter_accepts_the_range_params(name: str) -> None:
    dumped = get_op_class(name)().params.model_dump()
    assert {k: dumped[k] for k in DJ_RANGE_DEFAULTS} == DJ_RANGE_DEFAULTS
    get_op_class(name)({"min_closed_interval": False, "max_closed_interval": False, "reversed_range": True})


def _keep(params: dict, values: list[float]) -> list[bool]:
    op = get_op_class("text_length_filter")({"min_len": 2, "max_len": 4, **params})
    return op.keep({"text_len": Stat(np.asarray(values, dtype=float))}).tolist()


def test_closed_open_and_reversed_like_data_juicer() -> None:
    v = [1, 2, 3, 4, 5]
    assert _keep({}, v) == [False, True, True, True, False]
    assert _keep({"min_closed_interval": False}, v) == [False, False, True, True, False]
    assert _keep({"max_closed_interval": False}, v) == [False, True, True, False, False]
    # reversed flips both closed flags first: keeps v <= 2 or v >= 4 (Data-Juicer's semantics)
    assert _keep({"reversed_range": True}, v) == [True, True, False, True, True]
    assert _keep({"reversed_range": True, "min_closed_interval": False, "max_closed_interval": False}, v) == [
        True,
        False,
        False,
        False,
        True,
    ]


def test_reversed_applies_per_stat_then_and_and_any_all() -> None:
    # image_shape_filter: reversed width range AND reversed height range, per image; then any/all
    op = get_op_class("image_shape_filter")(
        {"min_width": 10, "max_width": 20, "min_height": 10, "max_height": 20, "reversed_range": True}
    )
    offsets = np.array([0, 1, 2, 4, 4])
    w = Stat(np.array([5.0, 5.0, 30.0, 15.0]), offsets)
    h = Stat(np.array([5.0, 15.0, 30.0, 15.0]), offsets)
    # image 0: both outside -> kept; image 1: height inside -> dropped; sample 2: any of (kept, dropped)
    assert op.keep({"image_width": w, "image_height": h}).tolist() == [True, False, True, True]
    op.params.any_or_all = "all"
    assert op.keep({"image_width": w, "image_height": h}).tolist() == [True, False, False, True]


def test_unreadable_image_never_passes_even_reversed() -> None:
    op = get_op_class("image_aspect_ratio_filter")({"reversed_range": True})
    st = Stat(np.array([np.nan, 10.0]), np.array([0, 1, 2]))
    assert op.keep({"aspect_ratios": st}).tolist() == [False, True]
