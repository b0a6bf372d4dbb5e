"""Caption metrics: corpus BLEU-4, CIDEr-D and attribute accuracy of generated captions.

Own implementations, because no maintained offline package fits: ``pycocoevalcap`` needs Java for its
tokenizer and METEOR/SPICE, ``nltk``/``sacrebleu`` would be new dependencies for one function each.
Both scores follow the COCO caption evaluation code (``coco-caption``), the reference the captioning
literature reports against, so the numbers mean what readers expect:

- Text is normalised the same way for candidates and references: lowercase, words are runs of
  ``[a-z0-9]`` (punctuation dropped, as the PTB tokenizer step of coco-caption does).
- BLEU-4 (Papineni et al. 2002): corpus level, clipped n-gram precisions for n = 1..4 summed over all
  segments, geometric mean, brevity penalty against the closest reference length. No smoothing: a corpus
  with no matching 4-gram scores 0.
- CIDEr-D (Vedantam et al. 2015, coco-caption's ``CiderScorer``): TF-IDF n-gram vectors (n = 1..4, term
  frequency = raw count, IDF = log(#images) - log(document frequency over the reference sets)), the
  candidate's weights clipped to the reference's, cosine per n, a Gaussian length penalty (sigma = 6),
  averaged over n and references, times 10. A vector with no n-grams of some order scores 0 for it.
- Attribute accuracy: when eval rows carry ``labels`` ({attribute: value}), a small multinomial naive
  Bayes parser (unigrams + bigrams, add-one smoothing) is fitted per attribute on the *reference*
  captions of the eval split and then reads the attribute off each *generated* caption. It needs no
  knowledge of the caption templates (``three`` -> count 3, ``upper part`` -> top are learned), which
  keeps it valid for any labelled dataset; its accuracy on the references themselves is reported too,
  as the ceiling the model can reach.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

_WORD = re.compile(r"[a-z0-9]+")

NGram = tuple[str, ...]


def words(text: str) -> list[str]:
    """Normalised words of a caption (lowercase, punctuation dropped)."""
    return _WORD.findall(text.lower())


def ngram_counts(tokens: Sequence[str], n: int) -> Counter[NGram]:
    """Counts of every n-gram of order 1..n."""
    out: Counter[NGram] = Counter()
    for k in range(1, n + 1):
        for i in range(len(tokens) - k + 1):
            out[tuple(tokens[i : i + k])] += 1
    return out


def _as_refs(references: Sequence[str | Sequence[str]]) -> list[list[str]]:
    return [[r] if isinstance(r, str) else list(r) for r in references]


def _check(candidates: Sequence[str], refs: list[list[str]]) -> None:
    if len(candidates) != len(refs):
        raise ValueError(f"{len(candidates)} candidates but {len(refs)} reference sets")
    if any(not r for r in refs):
        raise ValueError("every candidate needs at least one reference")


def bleu(candidates: Sequence[str], references: Sequence[str | Sequence[str]], n: int = 4) -> float:
    """Corpus BLEU-n in [0, 1]. ``references[i]`` is one caption or a list of captions for candidate i."""
    refs = _as_refs(references)
    _check(candidates, refs)
    if not candidates:
        return 0.0
    matched = [0] * n
    total = [0] * n
    cand_len = ref_len = 0
    for cand, rs in zip(candidates, refs, strict=True):
        c = words(cand)
        r_tok = [words(r) for r in rs]
        cand_len += len(c)
        # closest reference length; ties go to the shorter one (coco-caption's "closest")
        ref_len += min((abs(len(r) - len(c)), len(r)) for r in r_tok)[1]
        c_counts = ngram_counts(c, n)
        max_ref: Counter[NGram] = Counter()
        for r in r_tok:
            for g, k in ngram_counts(r, n).items():
                max_ref[g] = max(max_ref[g], k)
        for g, k in c_counts.items():
            matched[len(g) - 1] += min(k, max_ref[g])
        for k in range(n):
            total[k] += max(0, len(c) - k)
    if min(total) == 0 or min(matched) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matched, total, strict=True)) / n
    bp = 1.0 if cand_len > ref_len else math.exp(1.0 - ref_len / max(cand_len, 1))
    return bp * math.exp(log_p)


def cider_d(
    candidates: Sequence[str], references: Sequence[str | Sequence[str]], n: int = 4, sigma: float = 6.0
) -> tuple[float, list[float]]:
    """(corpus CIDEr-D, per-candidate scores). Document frequencies come from the reference sets given,
    so the score of one candidate depends on the whole corpus, as in coco-caption."""
    refs = _as_refs(references)
    _check(candidates, refs)
    if not candidates:
        return 0.0, []
    cooked_refs = [[ngram_counts(words(r), n) for r in rs] for rs in refs]
    df: Counter[NGram] = Counter()
    for rs in cooked_refs:
        df.update({g for r in rs for g in r})
    log_n = math.log(float(len(cooked_refs)))

    def vec(counts: Counter[NGram]) -> tuple[list[dict[NGram, float]], list[float], int]:
        v: list[dict[NGram, float]] = [{} for _ in range(n)]
        norm = [0.0] * n
        length = 0
        for g, tf in counts.items():
            k = len(g) - 1
            w = float(tf) * (log_n - math.log(max(1.0, df[g])))
            v[k][g] = w
            norm[k] += w * w
            if k == 1:  # coco-caption counts bigrams as the length; only differences of lengths matter
                length += tf
        return v, [math.sqrt(x) for x in norm], length

    scores: list[float] = []
    for cand, rs in zip(candidates, cooked_refs, strict=True):
        vh, nh, lh = vec(ngram_counts(words(cand), n))
        total = 0.0
        for r in rs:
            vr, nr, lr = vec(r)
            penalty = math.exp(-((lh - lr) ** 2) / (2 * sigma**2))
            per_n = 0.0
            for k in range(n):
                if nh[k] == 0 or nr[k] == 0:
                    continue
                dot = sum(min(w, vr[k].get(g, 0.0)) * vr[k].get(g, 0.0) for g, w in vh[k].items())
                per_n += dot / (nh[k] * nr[k]) * penalty
            total += per_n / n
        scores.append(10.0 * total / len(rs))
    return sum(scores) / len(scores), scores


class AttributeParser:
    """Reads one labelled attribute (e.g. colour) off a caption: multinomial naive Bayes over unigrams
    and bigrams, fitted on reference captions with known values. Ties go to the first class in sorted
    order, so the parse is deterministic."""

    def __init__(self, texts: Sequence[str], values: Sequence[str]):
        if len(texts) != len(values) or not texts:
            raise ValueError("AttributeParser needs as many values as texts, and at least one")
        self.classes = sorted(set(values))
        counts: dict[str, Counter[str]] = {c: Counter() for c in self.classes}
        prior: Counter[str] = Counter(values)
        vocab: set[str] = set()
        for t, v in zip(texts, values, strict=True):
            f = self.features(t)
            counts[v].update(f)
            vocab.update(f)
        v_size = len(vocab) + 1
        self._log_prior = {c: math.log(prior[c] / len(values)) for c in self.classes}
        self._log_p: dict[str, dict[str, float]] = {}
        self._log_unseen: dict[str, float] = {}
        for c in self.classes:
            tot = sum(counts[c].values()) + v_size
            self._log_p[c] = {f: math.log((k + 1) / tot) for f, k in counts[c].items()}
            self._log_unseen[c] = math.log(1 / tot)

    @staticmethod
    def features(text: str) -> list[str]:
        w = words(text)
        return w + [f"{a} {b}" for a, b in zip(w, w[1:], strict=False)]

    def parse(self, text: str) -> str:
        f = self.features(text)
        best, best_lp = self.classes[0], -math.inf
        for c in self.classes:
            lp_c, unseen = self._log_p[c], self._log_unseen[c]
            lp = self._log_prior[c] + sum(lp_c.get(x, unseen) for x in f)
            if lp > best_lp:
                best, best_lp = c, lp
        return best


def attribute_accuracy(
    generated: Sequence[str], references: Sequence[str], labels: Sequence[Mapping[str, object] | None]
) -> dict[str, float]:
    """``attr_{name}`` (accuracy of the attribute parsed from the generated caption), their mean
    ``attr_acc``, and ``attr_ref_acc`` (the parser on the references: the ceiling). Attributes with fewer
    than 2 values are skipped; rows without a value for an attribute do not count for it."""
    if not (len(generated) == len(references) == len(labels)):
        raise ValueError("generated, references and labels must have the same length")
    by_attr: dict[str, dict[int, str]] = {}
    for i, lab in enumerate(labels):
        if isinstance(lab, Mapping):
            for a, v in lab.items():
                if v is not None:
                    by_attr.setdefault(str(a), {})[i] = str(v)
    out: dict[str, float] = {}
    ceiling: list[float] = []
    for attr in sorted(by_attr):
        rows = sorted(by_attr[attr])
        values = [by_attr[attr][i] for i in rows]
        if len(set(values)) < 2:
            continue
        parser = AttributeParser([references[i] for i in rows], values)
        hits = sum(parser.parse(generated[i]) == v for i, v in zip(rows, values, strict=True))
        out[f"attr_{attr}"] = hits / len(rows)
        ceiling.append(sum(parser.parse(references[i]) == v for i, v in zip(rows, values, strict=True)) / len(rows))
    if out:
        out["attr_acc"] = sum(out.values()) / len(out)
        out["attr_ref_acc"] = sum(ceiling) / len(ceiling)
    return out
