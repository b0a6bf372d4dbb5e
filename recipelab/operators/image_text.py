"""Image-text filters with Data-Juicer names, stat keys, params and defaults (data_juicer/ops/filter).

``image_text_similarity_filter`` scores each chunk's images against the chunk's text (chunks as
``Sample.chunks``) with a CLIP model when ``hf_clip`` is a local checkpoint directory, and otherwise
with a proxy CLIP trained on the pool itself (``proxy_clip``), so it works offline.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image, ImageOps

from recipelab.data.sample import Sample
from recipelab.operators.base import AnyOrAll, Filter, FilterParams, OpContext, Stat, Stats, Threshold
from recipelab.operators.registry import register

if TYPE_CHECKING:  # torch is imported only when a proxy is trained, so `recipelab ops list` stays fast
    from recipelab.operators.proxy_clip import ProxyScorer

log = logging.getLogger(__name__)

PROXY = "proxy"


class ImageTextSimilarityParams(FilterParams):
    hf_clip: str = "openai/clip-vit-base-patch32"
    trust_remote_code: bool = False
    min_score: float = 0.1
    max_score: float = 1.0
    horizontal_flip: bool = False
    vertical_flip: bool = False
    any_or_all: AnyOrAll = "any"
    reduce_mode: Literal["avg", "max", "min"] = "avg"
    # --- recipelab extensions (not in Data-Juicer) ---
    #: Proxy CLIP (used when ``hf_clip`` is not a local directory): seed, epochs, cross-fitting folds.
    proxy_seed: int = 0
    proxy_epochs: int = 6
    proxy_folds: int = 3
    #: Images per forward pass of a local CLIP model (speed only).
    batch_size: int = 64


def _sample_key(s: Sample) -> tuple[str, str, tuple[str, ...]]:
    return (s.id, s.text, tuple(s.images))


def _reduce(vals: np.ndarray, mode: str) -> float:
    """One value per chunk from its images' scores; NaN if any image of the chunk was unreadable."""
    if len(vals) == 0 or np.isnan(vals).any():
        return float("nan")
    if mode == "avg":
        return float(vals.mean())
    return float(vals.max() if mode == "max" else vals.min())


@contextmanager
def _torch_threads(n: int):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@register
class ImageTextSimilarityFilter(Filter):
    """Keep samples whose image-text similarity is within [min_score, max_score].

    As Data-Juicer: the text is split into chunks at ``<|__dj__eoc|>``; each chunk with images gets one
    value, the cosine similarity of its images to its text reduced by ``reduce_mode`` (avg/max/min);
    ``any_or_all`` then combines a sample's chunks. (A caption row without image tokens is one chunk
    with all its images; Data-Juicer would skip it.) ``hf_clip`` a local directory: a Hugging Face
    CLIP checkpoint (cosine = Data-Juicer's ``logits / 100``). Anything else (the default hub name,
    or ``"proxy"``): a proxy CLIP trained on the pool with cross-fitting; its cosines are on another
    scale than CLIP's, so choose thresholds by quantile."""

    name = "image_text_similarity_filter"
    summary = "CLIP (or self-trained proxy) cosine similarity of each image to its text chunk"
    modality = "image_text"
    Params = ImageTextSimilarityParams
    stats_keys = ("image_text_similarity",)
    stat_params = (
        "hf_clip",
        "trust_remote_code",
        "horizontal_flip",
        "vertical_flip",
        "reduce_mode",
        "proxy_seed",
        "proxy_epochs",
        "proxy_folds",
    )
    extension_params = ("proxy_seed", "proxy_epochs", "proxy_folds", "batch_size")
    thresholds = (
        Threshold("min_score", "image_text_similarity", "min"),
        Threshold("max_score", "image_text_similarity", "max"),
    )

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self._clip: tuple[Any, Any, Any] | None = None
        self._proxy: ProxyScorer | None = None
        self._proxy_values: dict[tuple[str, str, tuple[str, ...]], list[float]] = {}

    def dj_unsupported_reason(self) -> str | None:
        """Never exported to Data-Juicer: its op needs a Hugging Face CLIP, and its scores are on CLIP's
        scale; a proxy CLIP's cosines are on another scale, and even with a local CLIP, Data-Juicer skips
        the caption rows that have no ``<__dj__image>`` token, which are scored here."""
        if self.uses_local_clip():
            return (
                "local CLIP scores here include caption rows without <__dj__image> tokens, which Data-Juicer "
                "skips; decisions are not checked against Data-Juicer"
            )
        return "scores come from a proxy CLIP trained on the pool; Data-Juicer's op needs a real CLIP (hf_clip)"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_clip"] = None  # reloaded lazily in another process
        return state

    # ------------------------------------------------------------------------------------ model choice

    def uses_local_clip(self) -> bool:
        return self.params.hf_clip != PROXY and os.path.isdir(self.params.hf_clip)

    def setup(self, context: OpContext) -> None:
        if self.uses_local_clip():
            self._load_clip()
        else:
            self._fit_proxy(context.samples)

    # ------------------------------------------------------------------------------------------- stats

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        if self.uses_local_clip():
            lists = self._clip_stats(samples)
        else:
            lists = self._proxy_stats(samples)
        st = Stat.from_lists(lists)
        bad = int(np.isnan(st.values).sum())
        if bad:
            log.warning("%s: %d chunk(s) with unreadable images (stat NaN)", self.name, bad)
        return {"image_text_similarity": st}

    # ------------------------------------------------------------------------------------------- proxy

    def _fit_proxy(self, samples: Sequence[Sample]) -> None:
        p = self.params
        from recipelab.operators.proxy_clip import ProxyConfig, ProxyScorer

        cfg = ProxyConfig(seed=p.proxy_seed, epochs=p.proxy_epochs, folds=p.proxy_folds)
        scorer = ProxyScorer(cfg, p.horizontal_flip, p.vertical_flip)
        texts: list[str] = []
        images: list[list[str]] = []
        groups: list[int] = []
        owners: list[int] = []  # sample index per chunk
        for i, s in enumerate(samples):
            for text, imgs in s.chunks():
                if imgs:
                    texts.append(text)
                    images.append(imgs)
                    groups.append(i)
                    owners.append(i)
        with _torch_threads(1):  # tiny matmuls: one thread is as fast and immune to oversubscription
            scores, offs = scorer.fit_score(texts, images, groups)
        values: dict[tuple[str, str, tuple[str, ...]], list[float]] = {}
        per_sample: list[list[float]] = [[] for _ in samples]
        for c, i in enumerate(owners):
            per_sample[i].append(_reduce(scores[offs[c] : offs[c + 1]], p.reduce_mode))
        for s, vals in zip(samples, per_sample, strict=True):
            values[_sample_key(s)] = vals
        self._proxy = scorer
        self._proxy_values = values

    def _proxy_stats(self, samples: Sequence[Sample]) -> list[list[float]]:
        if self._proxy is None:  # setup was not called: the batch is the pool
            log.info("%s: proxy CLIP trained on this batch only (setup not called)", self.name)
            self.setup(OpContext(samples=samples, cache_dir=tempfile.gettempdir(), dataset_fingerprint=""))
        assert self._proxy is not None
        out: list[list[float] | None] = [self._proxy_values.get(_sample_key(s)) for s in samples]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:  # not in the pool the proxy was fitted on: score with the fold models' ensemble
            texts, paths, where = [], [], []
            for i in missing:
                for c, (text, imgs) in enumerate(samples[i].chunks()):
                    for p in imgs:
                        texts.append(text)
                        paths.append(p)
                        where.append((i, c))
            with _torch_threads(1):
                sc = self._proxy.score(texts, paths) if texts else np.zeros(0)
            out = self._group_chunks(samples, missing, out, sc, where)
        return [v if v is not None else [] for v in out]

    def _group_chunks(
        self,
        samples: Sequence[Sample],
        idx: Sequence[int],
        out: list[list[float] | None],
        pair_scores: np.ndarray,
        where: Sequence[tuple[int, int]],
    ) -> list[list[float] | None]:
        """Fill ``out[i]`` for ``i`` in ``idx`` with per-chunk reduced values of ``pair_scores``."""
        by: dict[tuple[int, int], list[float]] = {}
        for (i, c), v in zip(where, pair_scores, strict=True):
            by.setdefault((i, c), []).append(float(v))
        for i in idx:
            vals = []
            for c, (_, imgs) in enumerate(samples[i].chunks()):
                if imgs:
                    vals.append(_reduce(np.asarray(by[(i, c)]), self.params.reduce_mode))
            out[i] = vals
        return out

    # -------------------------------------------------------------------------------------- local CLIP

    def _load_clip(self) -> tuple[Any, Any, Any]:
        if self._clip is None:
            import torch
            from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

            path, trc = self.params.hf_clip, self.params.trust_remote_code
            model = AutoModel.from_pretrained(path, trust_remote_code=trc)
            tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trc)
            improc = AutoImageProcessor.from_pretrained(path, trust_remote_code=trc)
            model.eval()
            if torch.cuda.is_available():
                model.to("cuda")
            self._clip = (model, tok, improc)
        return self._clip

    def _load_image(self, path: str) -> Image.Image | None:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
            if self.params.horizontal_flip:
                im = ImageOps.mirror(im)
            if self.params.vertical_flip:
                im = ImageOps.flip(im)
            return im
        except Exception:
            return None

    def _clip_stats(self, samples: Sequence[Sample]) -> list[list[float]]:
        import torch

        model, tok, improc = self._load_clip()
        dev = next(model.parameters()).device
        texts: list[str] = []
        text_index: dict[str, int] = {}
        paths: list[str] = []
        pair_text: list[int] = []
        where: list[tuple[int, int]] = []
        for i, s in enumerate(samples):
            for c, (text, imgs) in enumerate(s.chunks()):
                for p in imgs:
                    if text not in text_index:
                        text_index[text] = len(texts)
                        texts.append(text)
                    paths.append(p)
                    pair_text.append(text_index[text])
                    where.append((i, c))

        def feats(out: Any) -> torch.Tensor:
            t = out if isinstance(out, torch.Tensor) else out.pooler_output  # transformers 5 returns outputs
            return torch.nn.functional.normalize(t.float(), dim=-1)

        bs = max(1, self.params.batch_size)
        max_len = getattr(getattr(model.config, "text_config", None), "max_position_embeddings", 77)
        temb = []
        with torch.no_grad():
            for s in range(0, len(texts), bs):
                enc = tok(texts[s : s + bs], padding=True, truncation=True, max_length=max_len, return_tensors="pt")
                enc = {k: v.to(dev) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
                temb.append(feats(model.get_text_features(**enc)).cpu())
            text_emb = torch.cat(temb) if temb else torch.zeros(0)
            scores = np.full(len(paths), np.nan)
            for s in range(0, len(paths), bs):
                ims = [self._load_image(p) for p in paths[s : s + bs]]
                ok = [j for j, im in enumerate(ims) if im is not None]
                if not ok:
                    continue
                px = improc(images=[ims[j] for j in ok], return_tensors="pt")["pixel_values"].to(dev)
                iemb = feats(model.get_image_features(pixel_values=px)).cpu()
                tsel = text_emb[[pair_text[s + j] for j in ok]]
                cos = (iemb * tsel).sum(-1).double().numpy()
                scores[[s + j for j in ok]] = cos
        out: list[list[float] | None] = [None] * len(samples)
        out = self._group_chunks(samples, range(len(samples)), out, scores, where)
        return [v if v is not None else [] for v in out]
