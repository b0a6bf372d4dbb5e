"""BLEU-4, CIDEr-D and attribute accuracy against values worked out by hand (the arithmetic is in the
comments), so the implementation is checked against the definitions, not against itself."""

from __future__ import annotations

import math

import pytest

from recipelab.trainers.caption_metrics import AttributeParser, attribute_accuracy, bleu, cider_d, words


def test_words_normalise_case_and_punctuation() -> None:
    assert words("One cyan hexagon, in the UPPER part.") == ["one", "cyan", "hexagon", "in", "the", "upper", "part"]


def test_bleu4_hand_computed() -> None:
    # 7 candidate words vs 6 reference words: clipped matches 6/7, 5/6, 4/5, 3/4; no brevity penalty
    got = bleu(["a red square on the left side"], ["a red square on the left"])
    assert got == pytest.approx((6 / 7 * 5 / 6 * 4 / 5 * 3 / 4) ** 0.25)  # (3/7)^(1/4) = 0.8091
    # a perfect but short candidate: all precisions 1, brevity penalty exp(1 - 6/5)
    assert bleu(["a red square on the"], ["a red square on the left"]) == pytest.approx(math.exp(-0.2))
    # corpus level: counts are summed over segments before the ratios (7/8, 5/6, 3/4, 1/2)
    got = bleu(["a b c d", "a b c e"], ["a b c d", "a b c d"])
    assert got == pytest.approx((7 / 8 * 5 / 6 * 3 / 4 * 1 / 2) ** 0.25)
    # clipping: "the the the the" has one "the" to match in the reference
    assert bleu(["the the the the"], ["the cat"], n=1) == pytest.approx(1 / 4)
    # several references: matches against the best one per n-gram, length from the closest reference
    assert bleu(["a red square"], [["a blue circle", "a red square"]]) == 0.0  # 3 words have no 4-gram
    assert bleu(["a red square on top"], [["a red square on top", "x"]]) == pytest.approx(1.0)
    assert bleu(["green"], ["a red square"]) == 0.0


def test_cider_d_hand_computed() -> None:
    # two images -> IDF of an n-gram found in one reference set = log(2) - log(1) = log 2
    score, per = cider_d(["a b", "c d"], ["a b", "c d"])
    # identical: cosine 1 for unigrams and bigrams, no 3-/4-grams (0): 10 * (1 + 1 + 0 + 0) / 4
    assert per == pytest.approx([5.0, 5.0]) and score == pytest.approx(5.0)
    # "a c" vs "a b": unigram vectors (a, c) and (a, b), weights log 2: cosine 1/2; no shared bigram
    _, per = cider_d(["a c", "c d"], ["a b", "c d"])
    assert per[0] == pytest.approx(10 * 0.5 / 4)  # 1.25
    # "a b a b" vs "a b": unigrams tf 2 -> (2, 2) log 2 vs (1, 1) log 2, clipped dot 2 log^2 2,
    # cosine 2 / (sqrt 8 * sqrt 2) = 1/2; bigrams ab:2, ba:1 (unseen: weight log 2) vs ab:1 ->
    # clipped dot log^2 2, cosine 1 / sqrt 5; length (bigram count) 3 vs 1 -> penalty exp(-4 / 72)
    _, per = cider_d(["a b a b", "c d"], ["a b", "c d"])
    assert per[0] == pytest.approx(10 * (0.5 + 1 / math.sqrt(5)) * math.exp(-4 / 72) / 4)
    # an n-gram in every reference set carries no weight (IDF log 2 - log 2 = 0)
    _, per = cider_d(["the x", "the y"], ["the b", "the d"])
    assert per == [0.0, 0.0]
    assert cider_d(["", "c d"], ["a b", "c d"])[1][0] == 0.0


def test_metric_input_errors() -> None:
    with pytest.raises(ValueError, match="2 candidates but 1 reference"):
        bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one reference"):
        cider_d(["a"], [[]])
    assert bleu([], []) == 0.0 and cider_d([], []) == (0.0, [])


def test_attribute_parser_and_accuracy() -> None:
    refs = [
        "three red circles at the top",
        "one blue square at the bottom",
        "two red squares on the left, the background is blue",
        "a blue circle in the upper part",
    ]
    labels = [
        {"colour": "red", "shape": "circle"},
        {"colour": "blue", "shape": "square"},
        {"colour": "red", "shape": "square"},
        {"colour": "blue", "shape": "circle", "only": "x"},  # one value only: not scored
    ]
    parser = AttributeParser(refs, [lab["shape"] for lab in labels])
    assert parser.parse("two blue circles") == "circle" and parser.parse("one square at the bottom") == "square"
    m = attribute_accuracy(refs, refs, labels)
    assert m["attr_shape"] == 1.0 and m["attr_ref_acc"] == pytest.approx((m["attr_colour"] + 1.0) / 2)
    assert "attr_only" not in m
    gen = ["red squares", "blue circle", "red square", "blue circle"]  # shapes of rows 0 and 1 wrong
    m = attribute_accuracy(gen, refs, labels)
    assert m["attr_shape"] == 0.5 and m["attr_colour"] == 1.0 and m["attr_acc"] == 0.75
    assert attribute_accuracy(gen, refs, [None] * 4) == {}
    with pytest.raises(ValueError):
        attribute_accuracy(gen, refs[:2], labels)
