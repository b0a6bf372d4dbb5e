"""A proxy CLIP trained on the pool itself, for image-text similarity without a downloadable model.

Self-filtering: a tiny contrastive model (a 3-layer CNN on 32 px thumbnails, a bag-of-words /
bigram embedding-mean text encoder over a vocabulary built from the pool) learns which captions go
with which images in *this* pool. Captions that do not describe their image (wrong or shuffled
captions, boilerplate) then score low. To keep a pair from scoring high merely because the model
memorised it, scores are cross-fitted: the pool is split into ``folds`` folds by sample; each fold is
scored by a model trained on the other folds. Output is a cosine similarity in [-1, 1].

Everything is seeded (``seed``); the result is deterministic on one machine and thread count.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ProxyConfig:
    seed: int = 0
    epochs: int = 6
    folds: int = 3
    image_size: int = 32
    dim: int = 64
    batch_size: int = 256
    lr: float = 3e-3
    max_vocab: int = 20000
    min_df: int = 2
    #: At most this many (image, text) pairs train each fold model (sampled); all pairs are scored.
    max_train_pairs: int = 50000


# ------------------------------------------------------------------------------------------ text side


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def text_terms(text: str) -> list[str]:
    w = words(text)
    return w + [f"{a}_{b}" for a, b in zip(w, w[1:], strict=False)]


class Vocab:
    """Unigrams and bigrams seen in at least ``min_df`` texts, most frequent first; id 0 is unused."""

    def __init__(self, texts: Sequence[str], max_size: int, min_df: int) -> None:
        df: Counter[str] = Counter()
        for t in texts:
            df.update(set(text_terms(t)))
        items = sorted(((c, t) for t, c in df.items() if c >= min_df), key=lambda x: (-x[0], x[1]))
        self.index = {t: i + 1 for i, (_, t) in enumerate(items[:max_size])}

    def __len__(self) -> int:
        return len(self.index) + 1

    def encode(self, text: str) -> np.ndarray:
        ids = sorted({self.index[t] for t in text_terms(text) if t in self.index})
        return np.asarray(ids, dtype=np.int64)


def bag(ids_list: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = [len(x) for x in ids_list]
    flat = np.concatenate(list(ids_list)) if sum(lens) else np.zeros(0, dtype=np.int64)
    offs = np.zeros(len(ids_list), dtype=np.int64)
    if len(lens) > 1:
        np.cumsum(lens[:-1], out=offs[1:])
    return torch.from_numpy(flat), torch.from_numpy(offs)


# ----------------------------------------------------------------------------------------- image side


def load_thumb(path: str, size: int) -> np.ndarray | None:
    """RGB uint8 (size, size, 3) thumbnail (aspect ratio squashed), or None if unreadable."""
    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft("RGB", (size, size))
            im = im.convert("RGB")
            f = min(im.size) // (2 * size)
            if f > 1:
                im = im.reduce(f)
            im = im.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8)
    except Exception:
        return None


def load_thumbs(paths: Sequence[str], size: int, threads: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, size, size) uint8 array and an ok mask (False: unreadable, zeros in the array)."""
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    with ThreadPoolExecutor(max(1, threads)) as ex:
        for i, a in enumerate(ex.map(lambda p: load_thumb(p, size), paths, chunksize=64)):
            if a is not None:
                out[i] = a.transpose(2, 0, 1)
                ok[i] = True
    return out, ok


class RandomConvFeatures:
    """A fixed, seeded random 2-layer CNN (conv 3x3 stride 2, pool, conv 3x3, pool) on the thumbnail,
    plus a 4x4 grid of mean colours: a label-free image representation computed once per pool (no
    backprop through convolutions, which is what keeps the proxy fast on CPU). The trainable part of
    the image encoder is the MLP head in ``ProxyCLIP``."""

    def __init__(self, image_size: int, seed: int, c1: int = 32, c2: int = 48) -> None:
        g = torch.Generator().manual_seed(seed + 7919)
        self.w1 = torch.randn(c1, 3, 3, 3, generator=g) / math.sqrt(27)
        self.b1 = 0.1 * torch.randn(c1, generator=g)
        self.w2 = torch.randn(c2, c1, 3, 3, generator=g) / math.sqrt(9 * c1)
        self.b2 = 0.1 * torch.randn(c2, generator=g)
        self.image_size = image_size
        self.dim = c2 * (image_size // 8) ** 2 + 3 * 16

    @torch.no_grad()
    def __call__(self, x: np.ndarray, hflip: bool = False, vflip: bool = False, batch: int = 1024) -> np.ndarray:
        out = np.zeros((len(x), self.dim), dtype=np.float32)
        for s in range(0, len(x), batch):
            t = torch.from_numpy(np.ascontiguousarray(x[s : s + batch])).float().div_(127.5).sub_(1.0)
            if hflip:
                t = t.flip(-1)
            if vflip:
                t = t.flip(-2)
            h = F.relu(F.conv2d(t, self.w1, self.b1, stride=2, padding=1))
            h = F.avg_pool2d(h, 2)
            h = F.relu(F.conv2d(h, self.w2, self.b2, padding=1))
            h = F.avg_pool2d(h, 2).flatten(1)
            col = F.adaptive_avg_pool2d(t, 4).flatten(1)
            out[s : s + len(t)] = torch.cat([h, col], 1).numpy()
        return out


class ProxyCLIP(nn.Module):
    def __init__(self, vocab_size: int, feat_dim: int, dim: int) -> None:
        super().__init__()
        self.img = nn.Sequential(nn.Linear(feat_dim, 256), nn.ReLU(), nn.Linear(256, dim))
        self.emb = nn.EmbeddingBag(vocab_size, 128, mode="mean")
        self.txt = nn.Sequential(nn.ReLU(), nn.Linear(128, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    def encode_image(self, f: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.img(f), dim=-1)

    def encode_text(self, flat: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.txt(self.emb(flat, offs)), dim=-1)


# ---------------------------------------------------------------------------------------- train/score


@dataclass
class PairTable:
    """All (image, chunk text) pairs of a pool, images as standardised features."""

    feats: np.ndarray  # (P, F) float32, for training
    score_feats: np.ndarray  # (P, F) float32, for scoring (of the flipped image when flips are asked)
    ok: np.ndarray  # (P,) image readable
    text_ids: list[np.ndarray]  # per pair
    text_hash: np.ndarray  # (P,) int64, equal for identical term sets (positives in the loss)
    group: np.ndarray  # (P,) sample index (fold unit)


def _hash_ids(ids: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(ids.tobytes(), digest_size=8).digest(), "little", signed=True)


def train_model(table: PairTable, idx: np.ndarray, vocab_size: int, cfg: ProxyConfig, seed: int) -> ProxyCLIP:
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ProxyCLIP(vocab_size, table.feats.shape[1], cfg.dim)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    idx = idx[table.ok[idx]]
    if len(idx) > cfg.max_train_pairs:
        idx = np.sort(rng.choice(idx, cfg.max_train_pairs, replace=False))
    if len(idx) < 2:
        model.eval()
        return model
    bs = cfg.batch_size
    n_batches = max(1, len(idx) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * n_batches, pct_start=0.15)
    feats = torch.from_numpy(table.feats)
    model.train()
    for _ in range(cfg.epochs):
        perm = idx[torch.randperm(len(idx), generator=gen).numpy()]
        for b in range(n_batches):
            bi = perm[b * bs : (b + 1) * bs] if n_batches > 1 else perm
            zi = model.encode_image(feats[bi])
            zt = model.encode_text(*bag([table.text_ids[i] for i in bi]))
            logits = model.logit_scale.exp().clamp(max=100.0) * zi @ zt.t()
            h = torch.from_numpy(table.text_hash[bi])
            target = (h[:, None] == h[None, :]).float()  # identical captions are all positives
            target = target / target.sum(1, keepdim=True)  # symmetric, so it serves both directions
            loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


@torch.no_grad()
def score_pairs(
    models: Sequence[ProxyCLIP], feats: np.ndarray, text_ids: Sequence[np.ndarray], batch: int = 4096
) -> np.ndarray:
    """Cosine similarity per (image features, text) pair, averaged over ``models``."""
    out = np.zeros(len(feats), dtype=np.float64)
    for s in range(0, len(feats), batch):
        f = torch.from_numpy(np.ascontiguousarray(feats[s : s + batch]))
        flat, offs = bag(text_ids[s : s + batch])
        acc = torch.zeros(len(f), dtype=torch.float64)
        for m in models:
            acc += (m.encode_image(f) * m.encode_text(flat, offs)).sum(-1).double()
        out[s : s + len(f)] = (acc / len(models)).numpy()
    return out


class ProxyScorer:
    """Trained once on a pool (``fit_score``, which returns cross-fitted scores for the pool's pairs);
    ``score`` then gives the fold models' ensemble score for pairs it has not seen."""

    def __init__(self, cfg: ProxyConfig, horizontal_flip: bool = False, vertical_flip: bool = False) -> None:
        self.cfg = cfg
        self.hflip = horizontal_flip
        self.vflip = vertical_flip
        self.features = RandomConvFeatures(cfg.image_size, cfg.seed)
        self.vocab: Vocab | None = None
        self.models: list[ProxyCLIP] = []
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _feats(self, thumbs: np.ndarray, flip: bool) -> np.ndarray:
        f = self.features(thumbs, self.hflip and flip, self.vflip and flip)
        assert self.mean is not None and self.std is not None
        return ((f - self.mean) / self.std).astype(np.float32)

    def fit_score(
        self,
        chunk_texts: Sequence[str],
        chunk_images: Sequence[Sequence[str]],
        chunk_group: Sequence[int],
        threads: int = 4,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Train the fold models on all pairs of all chunks; returns (score per pair, pair offsets per
        chunk). A pair's score comes from the model that did not see its sample's fold."""
        cfg = self.cfg
        t0 = time.perf_counter()
        self.vocab = Vocab(chunk_texts, cfg.max_vocab, cfg.min_df)
        paths: list[str] = []
        tids: list[np.ndarray] = []
        groups: list[int] = []
        offs = [0]
        for text, imgs, g in zip(chunk_texts, chunk_images, chunk_group, strict=True):
            ids = self.vocab.encode(text)
            for p in imgs:
                paths.append(p)
                tids.append(ids)
                groups.append(g)
            offs.append(len(paths))
        thumbs, ok = load_thumbs(paths, cfg.image_size, threads)
        t1 = time.perf_counter()
        raw = self.features(thumbs)
        good = raw[ok] if ok.any() else raw
        self.mean = good.mean(0) if len(good) else np.zeros(raw.shape[1], np.float32)
        self.std = good.std(0) + 1e-3 if len(good) else np.ones(raw.shape[1], np.float32)
        feats = ((raw - self.mean) / self.std).astype(np.float32)
        score_feats = self._feats(thumbs, True) if (self.hflip or self.vflip) else feats
        del thumbs
        table = PairTable(
            feats,
            score_feats,
            ok,
            tids,
            np.fromiter((_hash_ids(t) for t in tids), dtype=np.int64, count=len(tids)),
            np.asarray(groups, dtype=np.int64),
        )
        t2 = time.perf_counter()
        n_groups = int(table.group.max()) + 1 if len(table.group) else 0
        folds = max(2, min(cfg.folds, n_groups)) if n_groups >= 2 else 1
        rng = np.random.default_rng(cfg.seed)
        fold_of_group = rng.permutation(n_groups) % folds
        pair_fold = fold_of_group[table.group] if len(table.group) else np.zeros(0, dtype=np.int64)
        scores = np.full(len(ok), np.nan)
        self.models = []
        all_idx = np.arange(len(ok))
        for k in range(folds):
            train_idx = all_idx[pair_fold != k] if folds > 1 else all_idx
            test_idx = all_idx[pair_fold == k]
            model = train_model(table, train_idx, len(self.vocab), cfg, cfg.seed * 1000 + k)
            self.models.append(model)
            scores[test_idx] = score_pairs([model], table.score_feats[test_idx], [tids[i] for i in test_idx])
        scores[~ok] = np.nan
        log.info(
            "proxy CLIP: %d pairs, vocab %d, %d folds; load %.1fs, features %.1fs, train+score %.1fs",
            len(scores),
            len(self.vocab),
            folds,
            t1 - t0,
            t2 - t1,
            time.perf_counter() - t2,
        )
        return scores, np.asarray(offs, dtype=np.int64)

    def score(self, texts: Sequence[str], paths: Sequence[str]) -> np.ndarray:
        """Ensemble score of arbitrary (text, image path) pairs; NaN for unreadable images."""
        if self.vocab is None or not self.models:
            raise RuntimeError("ProxyScorer.score before fit_score")
        thumbs, ok = load_thumbs(paths, self.cfg.image_size)
        s = score_pairs(self.models, self._feats(thumbs, True), [self.vocab.encode(t) for t in texts])
        s[~ok] = np.nan
        return s
