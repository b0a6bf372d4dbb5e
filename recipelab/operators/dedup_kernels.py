"""Vectorised grouping kernels behind the deduplicators (``operators/dedup.py``): hashes and signatures in,
int64 group labels out, no op classes.

A group's label is the index of its first member, so "keep the first of each group" is ``label == index``.
Near-duplicate clustering is a connected-components pass over the duplicate pairs (union-find, as
Data-Juicer), done with scipy. What each sample hashes to is in :mod:`recipelab.operators.dedup_signatures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from recipelab.operators.hashing import U64, fold_rows


# --------------------------------------------------------------------------------------------------
# Grouping helpers
# --------------------------------------------------------------------------------------------------
def labels_from_keys(keys: Sequence[object]) -> np.ndarray:
    """Exact grouping: the label of a sample is the index of the first sample with the same key."""
    first: dict[object, int] = {}
    return np.fromiter((first.setdefault(k, i) for i, k in enumerate(keys)), dtype=np.int64, count=len(keys))


def labels_from_pairs(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the pair graph; each labelled by its smallest index."""
    if len(a) == 0:
        return np.arange(n, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    _, first = np.unique(comp, return_index=True)  # first index of each component, components in order
    return first[comp].astype(np.int64)


def _pairs_in_buckets(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, with keys[i] == keys[j]."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = k[1:] != k[:-1]
    run_start = np.flatnonzero(new)
    run_len = np.diff(np.append(run_start, len(k)))
    run_of = np.repeat(np.arange(len(run_start)), run_len)
    rank = np.arange(len(k)) - run_start[run_of]
    later = run_len[run_of] - 1 - rank  # partners after each element in its run
    total = int(later.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    first = np.repeat(np.arange(len(k)), later)
    step = np.arange(total) - np.repeat(np.cumsum(later) - later, later)
    return order[first], order[first + 1 + step]


def near_duplicate_pairs(sig: np.ndarray, max_dist: int, num_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of rows of ``sig`` (N x W uint64, i.e. 64*W-bit signatures) within Hamming distance
    ``max_dist``. As simhash's ``find_all``: the bits are cut into ``num_blocks`` blocks; two signatures
    within the distance agree on at least ``num_blocks - max_dist`` whole blocks, so candidates are the
    rows sharing such a block combination, and candidates are then verified. Exact (no misses)."""
    n, w = sig.shape
    nbits = 64 * w
    if n < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    num_blocks = max(min(num_blocks, nbits), max_dist + 1) if max_dist < nbits else 1
    bounds = np.linspace(0, nbits, num_blocks + 1).round().astype(int)
    # per block, a W-word mask (bit b of the signature is bit (63 - b % 64) of word b // 64)
    masks = np.zeros((num_blocks, w), dtype=np.uint64)
    for blk in range(num_blocks):
        for bit in range(bounds[blk], bounds[blk + 1]):
            masks[blk, bit // 64] |= U64(1) << U64(63 - bit % 64)
    keep = max(num_blocks - max_dist, 0)
    combos = list(combinations(range(num_blocks), keep)) if keep > 0 else [()]
    cand_a, cand_b = [], []
    for combo in combos:
        mask = np.zeros(w, dtype=np.uint64)
        for blk in combo:
            mask |= masks[blk]
        a, b = _pairs_in_buckets(fold_rows(sig & mask))
        cand_a.append(a)
        cand_b.append(b)
    a = np.concatenate(cand_a)
    b = np.concatenate(cand_b)
    if len(a) == 0:
        return a, b
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    uniq = np.unique(lo * n + hi)
    lo, hi = uniq // n, uniq % n
    dist = np.bitwise_count(sig[lo] ^ sig[hi]).sum(axis=1)
    ok = dist <= max_dist
    return lo[ok], hi[ok]


def labels_from_signatures(sig: np.ndarray, max_dist: int, num_blocks: int) -> np.ndarray:
    """Group rows equal or within ``max_dist`` bits (transitively); exact duplicates are collapsed first."""
    n = len(sig)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, first_idx, inv = np.unique(sig, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if max_dist > 0 and len(uniq) > 1:
        a, b = near_duplicate_pairs(uniq, max_dist, num_blocks)
        comp = labels_from_pairs(len(uniq), a, b)
    else:
        comp = np.arange(len(uniq), dtype=np.int64)
    sample_comp = comp[inv]
    _, first = np.unique(sample_comp, return_index=True)
    lookup = np.empty(int(sample_comp.max()) + 1, dtype=np.int64)
    lookup[np.unique(sample_comp)] = first
    return lookup[sample_comp]


def minhash_lsh_labels(mh: np.ndarray, num_bands: int, rows: int) -> np.ndarray:
    """Group the rows of an N x num_perm minhash matrix that share any LSH band (``num_bands`` bands of
    ``rows`` values each), transitively: every bucket member is joined to the bucket's first member
    (Data-Juicer: union with the min index)."""
    n = len(mh)
    edges_a, edges_b = [], []
    for band in range(num_bands):
        keys = fold_rows(mh[:, band * rows : (band + 1) * rows])
        order = np.argsort(keys, kind="stable")
        k = keys[order]
        new = np.ones(n, dtype=bool)
        new[1:] = k[1:] != k[:-1]
        head = order[np.flatnonzero(new)][np.cumsum(new) - 1]
        dup = head != order
        edges_a.append(order[dup])
        edges_b.append(head[dup])
    a = np.concatenate(edges_a) if edges_a else np.zeros(0, dtype=np.int64)
    b = np.concatenate(edges_b) if edges_b else np.zeros(0, dtype=np.int64)
    return labels_from_pairs(n, a, b)


def image_hash_labels(
    hashes: np.ndarray, ok: np.ndarray, counts: np.ndarray, text_keys: np.ndarray | None, hash_distance: int
) -> np.ndarray:
    """Group samples by their images' 64-bit hashes (``hashes``/``ok`` per image, ``counts`` images per
    sample, in sample order): samples with the same number of readable images whose hashes are equal, or
    within ``hash_distance`` bits in total, are duplicates; with ``text_keys`` their texts must match
    too. A sample without an image, or with an unreadable one, is a group of its own."""
    n = len(counts)
    labels = np.arange(n, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    all_ok = np.ones(n, dtype=bool)
    bad = np.flatnonzero(~ok)
    all_ok[np.searchsorted(offsets, bad, side="right") - 1] = False
    for k in np.unique(counts[counts > 0]):
        idx = np.flatnonzero((counts == k) & all_ok)
        if len(idx) < 2:
            continue
        sig = hashes[offsets[idx][:, None] + np.arange(k)[None, :]]
        if hash_distance == 0 or text_keys is None:
            if text_keys is not None:
                sig = np.concatenate([sig, text_keys[idx, None]], axis=1)
            sub = labels_from_signatures(sig, hash_distance, hash_distance + 1)
        else:
            # near image duplicates, but the text must match exactly
            uniq, first_idx, inv = np.unique(sig, axis=0, return_index=True, return_inverse=True)
            a, b = near_duplicate_pairs(uniq, hash_distance, hash_distance + 1)
            # expand unique-signature pairs to sample pairs with equal text
            ga, gb = _expand_pairs(inv.reshape(-1), a, b)
            same_sig_a, same_sig_b = _pairs_in_buckets(inv.reshape(-1).astype(np.uint64))
            ga = np.concatenate([ga, same_sig_a])
            gb = np.concatenate([gb, same_sig_b])
            tk = text_keys[idx]
            keep = tk[ga] == tk[gb]
            sub = labels_from_pairs(len(idx), ga[keep], gb[keep])
        labels[idx] = idx[sub]
    return labels


def _expand_pairs(inv: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of unique signatures -> pairs of their first members (members of one signature are joined
    separately), so components come out the same."""
    if len(a) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n_u = int(inv.max()) + 1
    members: list[list[int]] = [[] for _ in range(n_u)]
    for i, u in enumerate(inv.tolist()):
        members[u].append(i)
    ga = [x for u, v in zip(a.tolist(), b.tolist(), strict=True) for x in members[u] for _ in members[v]]
    gb = [y for u, v in zip(a.tolist(), b.tolist(), strict=True) for _ in members[u] for y in members[v]]
    return np.asarray(ga, dtype=np.int64), np.asarray(gb, dtype=np.int64)


__all__ = [
    "image_hash_labels",
    "labels_from_keys",
    "labels_from_pairs",
    "labels_from_signatures",
    "minhash_lsh_labels",
    "near_duplicate_pairs",
]
