"""Retrieval recall@k and zero-shot accuracy, vectorised in torch.

Ties are scored pessimistically: a wrong candidate scoring *equal* to the best right one ranks above
it, so a collapsed model (all scores equal) gets recall 0, never 1.

Positives: query i is matched by candidate j when ``groups[i] == groups[j]`` (default: only j == i).
The CLIP probe groups eval pairs by their normalised caption, so two images that share the caption
"a red square" are both right answers for that caption, and either caption is right for either image
(otherwise identical captions would tie and make recall depend on tie-breaking).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

DEFAULT_KS = (1, 5)


def retrieval_ranks(sim: torch.Tensor, groups: torch.Tensor | None = None, *, chunk: int = 2048) -> torch.Tensor:
    """Rank (0 = top) of the best positive for each row query of `sim` (queries x candidates).

    The square matrix pairs query i with candidate i; `groups` (len n) widens the positives.
    """
    n, m = sim.shape
    if n != m:
        raise ValueError(f"similarity matrix must be square (paired), got {tuple(sim.shape)}")
    if groups is None:
        groups = torch.arange(n, device=sim.device)
    groups = groups.to(sim.device)
    ranks = torch.empty(n, dtype=torch.long, device=sim.device)
    for s in range(0, n, chunk):
        block = sim[s : s + chunk].float()
        pos = groups[s : s + chunk, None] == groups[None, :]
        best_pos = block.masked_fill(~pos, float("-inf")).amax(dim=1, keepdim=True)
        ranks[s : s + chunk] = ((block >= best_pos) & ~pos).sum(dim=1)
    return ranks


def recall_at_k(
    sim: torch.Tensor, ks: Sequence[int] = DEFAULT_KS, groups: torch.Tensor | None = None
) -> dict[int, float]:
    """Fraction of row queries whose best positive is in the top k, for each k."""
    ranks = retrieval_ranks(sim, groups)
    return {int(k): float((ranks < k).double().mean().item()) for k in ks}


def retrieval_metrics(
    sim_image_text: torch.Tensor, groups: torch.Tensor | None = None, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Both directions from one (images x texts) matrix.

    Keys: ``i2t_r@k``, ``t2i_r@k`` for each k; ``recall@k`` = their mean; ``mean_recall`` = mean of
    all the directional recalls (with the default ks: r@1 and r@5 both ways — four numbers, which is
    less noisy than r@1 alone and, unlike r@5 alone, does not saturate on easy data).
    """
    i2t = recall_at_k(sim_image_text, ks, groups)
    t2i = recall_at_k(sim_image_text.t(), ks, groups)
    out: dict[str, float] = {}
    for k in ks:
        out[f"i2t_r@{k}"] = i2t[k]
        out[f"t2i_r@{k}"] = t2i[k]
        out[f"recall@{k}"] = (i2t[k] + t2i[k]) / 2
    out["mean_recall"] = sum(list(i2t.values()) + list(t2i.values())) / (2 * len(ks))
    return out


def zero_shot_accuracy(image_emb: torch.Tensor, class_emb: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``argmax_c <image, class_c>`` against integer `labels` (embeddings normalised
    by the caller). Ties go to the lowest class index (argmax), which is a fixed, deterministic rule."""
    if len(labels) == 0:
        return float("nan")
    pred = (image_emb.float() @ class_emb.float().t()).argmax(dim=1)
    return float((pred == labels.to(pred.device)).double().mean().item())
