"""The `clip` probe: a tiny transformers `CLIPModel` trained contrastively from scratch (or a local
checkpoint fine-tuned) on a fixed-size draw of the kept pool, scored on a clean held-out split.

Protocol
- Compute is fixed: ``steps x batch_size`` training examples. They come from a seeded stream of
  epochs (a fresh permutation of the training draw each epoch), so a pool smaller than
  ``steps x batch_size`` is repeated, never cut short.
- The training draw: the given samples (restricted to ``spec.train_ids`` when given) whose first image
  decodes; subsampled (seeded) to ``spec.train_size`` when the pool is larger; when it is smaller the
  probe runs on what there is and reports ``undersized=True``. Fewer than ``spec.min_train_size``
  usable samples raises `ProbeError`.
- Same seed -> same initial weights and the same position-by-position batch order, so two pools probed
  with the same seed are a paired comparison.
- Metrics (see `metrics.py`): ``i2t_r@1``, ``i2t_r@5``, ``t2i_r@1``, ``t2i_r@5``, ``recall@1``,
  ``recall@5`` (means of both ways) and the primary ``mean_recall`` = mean of the four directional
  recalls. Eval pairs with the same normalised caption count as positives of each other.
- Zero-shot accuracy, when eval rows carry ``extra["labels"]`` ({attribute: value}): for each
  attribute with >= 2 values, each class is represented by the normalised mean text embedding of the
  eval captions whose row has that value (the dataset's own captions act as the prompt templates, like
  CLIP's prompt ensembling; it needs no knowledge of the caption format); an image is assigned the
  nearest class. Keys ``zeroshot_{attribute}`` and their mean ``zeroshot``. With
  ``zero_shot_prompts=["a photo of {value}", ...]`` the classes are those template texts instead.
- Deterministic on CPU: fixed thread count and seeded RNGs (forked, so the caller's RNG state is
  untouched); tested bit-for-bit. On CUDA the same code runs with `torch.use_deterministic_algorithms`
  (warn-only) and CUBLAS_WORKSPACE_CONFIG defaulted, which only takes effect if set before CUDA starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recipelab.data.sample import Sample
from recipelab.trainers.base import ProbeError, ProbeResult, ProbeSpec, library_versions
from recipelab.trainers.images import ImageBank, decode_images
from recipelab.trainers.metrics import retrieval_metrics, zero_shot_accuracy
from recipelab.trainers.tokenizer import ProbeTokenizer

log = logging.getLogger(__name__)

# The from-scratch tower sizes (overridable per probe with ProbeSpec.model). Calibrated on the built-in
# benchmark on 2 CPU threads at 32 px (benchmarks/results/calibration.md): a 4x4 patch grid with a wider
# vision tower trains ~2x faster than an 8x8 grid, which buys 200 steps in under 20 s, and 200 steps
# separate clean from noisy data by ~6 seed stds where 150 steps of the 8x8 model gave ~4.
DEFAULT_MODEL: dict[str, Any] = {
    "projection_dim": 64,
    "vision": {
        "hidden_size": 96,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": None,  # None: image_size // 4 (a 4x4 patch grid at any image size)
        "hidden_act": "gelu",
    },
    "text": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "hidden_act": "gelu",
    },
}
MAX_LOGIT_SCALE = math.log(100.0)
EVAL_BATCH = 1024


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def caption_of(sample: Sample) -> str:
    return " ".join(sample.plain_text().split())


def build_config(spec: ProbeSpec, tokenizer: ProbeTokenizer, *, device: str = "cpu"):
    """The small from-scratch `CLIPConfig` for `spec` (DEFAULT_MODEL merged with spec.model)."""
    from transformers import CLIPConfig

    over = dict(spec.model)
    vision = {**DEFAULT_MODEL["vision"], **over.pop("vision", {}), **over.pop("vision_config", {})}
    text = {**DEFAULT_MODEL["text"], **over.pop("text", {}), **over.pop("text_config", {})}
    top = {"projection_dim": DEFAULT_MODEL["projection_dim"], **over}
    if vision.get("patch_size") is None:
        vision["patch_size"] = max(1, spec.image_size // 4)
    vision["image_size"] = spec.image_size
    text.update(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=spec.max_text_len,
        pad_token_id=tokenizer.pad_id,
        bos_token_id=tokenizer.bos_id,
        eos_token_id=tokenizer.eos_id,
    )
    for tower in (vision, text):
        tower.setdefault("projection_dim", top["projection_dim"])
    # eager attention is faster than SDPA for these tiny sequences on CPU
    attn = top.pop("attn_implementation", "eager" if device == "cpu" else "sdpa")
    return CLIPConfig(text_config=text, vision_config=vision, attn_implementation=attn, **top)


@dataclass
class FittedClip:
    """A trained probe model with what is needed to embed new images and texts."""

    model: Any  # transformers CLIPModel
    tokenizer: ProbeTokenizer
    image_size: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    device: str
    max_text_len: int

    def _pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(self.device, non_blocking=True).float().div_(255.0)
        mean = torch.tensor(self.image_mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def embed_images(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, s, s) -> L2-normalised embeddings (N, d) on CPU."""
        self.model.eval()
        px = torch.as_tensor(np.asarray(pixels)) if not isinstance(pixels, torch.Tensor) else pixels
        out = []
        for s in range(0, len(px), EVAL_BATCH):
            emb = self.model.get_image_features(pixel_values=self._pixels(px[s : s + EVAL_BATCH])).pooler_output
            out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.model.config.projection_dim)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Captions -> L2-normalised embeddings (N, d) on CPU."""
        self.model.eval()
        ids, lengths = self.tokenizer.encode(list(texts), self.max_text_len)
        ids_t, len_t = torch.from_numpy(ids), torch.from_numpy(lengths)
        out = []
        for s in range(0, len(ids), EVAL_BATCH):
            input_ids, mask = _text_batch(ids_t[s : s + EVAL_BATCH], len_t[s : s + EVAL_BATCH], self.device)
            emb = self.model.get_text_features(input_ids=input_ids, attention_mask=mask).pooler_output
            out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, self.model.config.projection_dim)


def _text_batch(ids: torch.Tensor, lengths: torch.Tensor, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(int(lengths.max()), 1)
    ids = ids[:, :width]
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    return ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)


def batch_order(spec: ProbeSpec, n: int) -> torch.Tensor:
    """The fixed-compute sample stream of every task: ``steps x batch_size`` indices into the training draw of
    ``n`` samples, seeded epochs back to back (same seed -> same batch order, so probes pair)."""
    total = spec.steps * spec.batch_size
    rng = np.random.default_rng([spec.seed, 2])
    order = np.concatenate([rng.permutation(n) for _ in range(-(-total // n))])[:total]
    if n < spec.batch_size:
        log.warning("training draw %d < batch size %d: batches repeat samples", n, spec.batch_size)
    return torch.from_numpy(order)


def optimizer_and_schedule(
    spec: ProbeSpec, params: list[tuple[str, Any]], decays: Callable[[str, Any], bool]
) -> tuple[Any, Any]:
    """AdamW (weight decay only where ``decays``) with linear warm-up then cosine decay over the probe's steps:
    the one training schedule of every task built on this trainer, so their probes spend compute alike."""
    import torch

    opt = torch.optim.AdamW(
        [
            {"params": [p for n, p in params if decays(n, p)], "weight_decay": spec.weight_decay},
            {"params": [p for n, p in params if not decays(n, p)], "weight_decay": 0.0},
        ],
        lr=spec.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    warmup = max(1, int(spec.warmup_frac * spec.steps))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, spec.steps - warmup)))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_at)


class ClipTrainer:
    """Runs `clip` probes.

    tokenizer: the run's tokenizer (built once from the pool: `ProbeTokenizer.build_or_load`); unused
        when the spec names a checkpoint (its own tokenizer is loaded from the checkpoint folder).
    images: one or more `ImageBank`s holding the train pool's and eval split's images (any sizes; the
        one matching the probe's image size is used). Images found in no bank are decoded on the fly.
    device: "cpu", "cuda", ...; None = CUDA when available.
    threads: torch CPU threads (default: all cores available to the process).
    zero_shot_prompts: "captions" (class = mean embedding of its eval captions) or templates with
        ``{value}`` (and optionally ``{attribute}``), e.g. ``["a photo of {value}"]``.
    """

    task = "clip"

    @staticmethod
    def model_defaults() -> dict[str, Any]:
        """The built-in from-scratch model sizes (part of the probe cache key)."""
        return DEFAULT_MODEL

    def __init__(
        self,
        tokenizer: ProbeTokenizer | None = None,
        images: ImageBank | Sequence[ImageBank] | None = None,
        *,
        device: str | None = None,
        threads: int | None = None,
        deterministic: bool = True,
        zero_shot_prompts: str | Sequence[str] = "captions",
    ):
        self.tokenizer = tokenizer
        if images is None:
            self.banks: list[ImageBank] = []
        elif isinstance(images, ImageBank):
            self.banks = [images]
        else:
            self.banks = list(images)
        self.device = device or default_device()
        self.threads = threads or default_threads()
        self.deterministic = deterministic
        self.zero_shot_prompts = zero_shot_prompts

    # ------------------------------------------------------------------ images
    def _pixels_for(self, paths: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
        pixels = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
        ok = np.zeros(len(paths), dtype=bool)
        todo = np.ones(len(paths), dtype=bool)
        for bank in self.banks:
            if bank.size != size or not todo.any():
                continue
            hit = np.array([todo[i] and p in bank.index for i, p in enumerate(paths)], dtype=bool)
            if hit.any():
                idx = np.flatnonzero(hit)
                px, k = bank.gather([paths[i] for i in idx])
                pixels[idx], ok[idx] = px, k
                todo &= ~hit
        if todo.any():
            idx = np.flatnonzero(todo)
            if self.banks:
                log.info("decoding %d images found in no %d px image bank", len(idx), size)
            px, k = decode_images([paths[i] for i in idx], size)
            pixels[idx], ok[idx] = px, k
        return pixels, ok

    def _usable(self, samples: Sequence[Sample], size: int) -> tuple[list[Sample], np.ndarray, int]:
        """Samples whose first image decodes, their pixels, and how many were skipped."""
        with_img = [s for s in samples if s.images]
        pixels, ok = self._pixels_for([s.images[0] for s in with_img], size)
        keep = np.flatnonzero(ok)
        skipped = len(samples) - len(keep)
        return [with_img[i] for i in keep], pixels[keep], skipped

    # ------------------------------------------------------------------ model
    def _load_model(self, spec: ProbeSpec):
        from transformers import CLIPModel

        if spec.checkpoint:
            path = Path(spec.checkpoint)
            if not path.is_dir():
                raise ProbeError(f"checkpoint {spec.checkpoint!r} is not a local folder")
            attn = "eager" if self.device == "cpu" else "sdpa"
            model = CLIPModel.from_pretrained(str(path), local_files_only=True, attn_implementation=attn)
            max_len = min(spec.max_text_len, model.config.text_config.max_position_embeddings)
            tok = ProbeTokenizer.from_pretrained(path, max_len=max_len)
            size = model.config.vision_config.image_size
            size = size[0] if isinstance(size, (list, tuple)) else int(size)
            mean, std = _image_norm(path)
            return model.float(), tok, size, mean, std, max_len
        if self.tokenizer is None:
            raise ProbeError("no tokenizer: build the run's tokenizer (ProbeTokenizer.build_or_load) first")
        tok = self.tokenizer.with_max_len(spec.max_text_len)
        model = CLIPModel(build_config(spec, tok, device=self.device))
        return model, tok, spec.image_size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), spec.max_text_len

    # ------------------------------------------------------------------ protocol
    def select_train(
        self, spec: ProbeSpec, train: Sequence[Sample], size: int
    ) -> tuple[list[Sample], np.ndarray, int, int]:
        """(training draw, its pixels, requested size, skipped images) after the checks of the protocol."""
        if spec.train_ids:
            by_id = {s.id: s for s in train}
            pool = [by_id[i] for i in dict.fromkeys(spec.train_ids) if i in by_id]
            missing = len(set(spec.train_ids)) - len(pool)
            if missing:
                log.warning("%d of the spec's train_ids are not among the given samples", missing)
        else:
            pool = list(train)
        requested = spec.train_size or len(spec.train_ids) or len(train)
        if not pool:
            raise ProbeError("recipe keeps 0 samples")
        usable, pixels, skipped = self._usable(pool, size)
        if not usable:
            raise ProbeError(f"recipe keeps 0 samples with a readable image ({skipped} skipped)")
        if len(usable) < spec.min_train_size:
            raise ProbeError(f"kept pool {len(usable)} < min_train_size {spec.min_train_size}")
        if len(usable) > requested:
            rng = np.random.default_rng([spec.seed, 1])
            pick = np.sort(rng.choice(len(usable), size=requested, replace=False))
            usable, pixels = [usable[i] for i in pick], pixels[pick]
        return usable, pixels, requested, skipped

    def run(self, spec: ProbeSpec, train: Sequence[Sample], eval: Sequence[Sample]) -> ProbeResult:
        t0 = time.perf_counter()
        if spec.task != self.task:
            raise ProbeError(f"ClipTrainer runs task 'clip', not {spec.task!r}")
        curve: list[dict[str, Any]] = []

        def score_at(fitted: FittedClip, step: int) -> None:
            metrics, _, _ = self.evaluate(fitted, eval)
            curve.append({"step": step, "metrics": metrics})

        with self._runtime(spec.seed):
            fitted, info = self._fit(spec, train, score_at=score_at if spec.eval_steps else None)
            t_eval = time.perf_counter()
            metrics, eval_size, eval_skipped = self.evaluate(fitted, eval)
            eval_time = time.perf_counter() - t_eval
        info["curve"] = curve
        return self._probe_result(spec, info, metrics, eval_size, eval_skipped, t0, eval_time)

    def _probe_result(
        self,
        spec: ProbeSpec,
        info: dict[str, Any],
        metrics: dict[str, float],
        eval_size: int,
        eval_skipped: int,
        t0: float,
        eval_time: float,
    ) -> ProbeResult:
        """The probe's record, the same for every task built on this trainer (caption subclasses it)."""
        if spec.primary_metric not in metrics:
            raise ProbeError(f"primary metric {spec.primary_metric!r} not among {sorted(metrics)}")
        return ProbeResult(
            metrics=metrics,
            primary_metric=spec.primary_metric,
            train_size=info["train_size"],
            requested_train_size=info["requested_train_size"],
            undersized=info["train_size"] < info["requested_train_size"],
            wall_time_s=time.perf_counter() - t0,
            train_time_s=info["train_time_s"],
            eval_time_s=eval_time,
            device=str(self.device),
            versions=library_versions(),
            skipped_images=info["skipped_images"] + eval_skipped,
            samples_per_s=(info.get("end_step", spec.steps) - info.get("start_step", 0))
            * spec.batch_size
            / max(info["train_time_s"], 1e-9),
            eval_size=eval_size,
            seed=spec.seed,
            steps=spec.steps,
            batch_size=spec.batch_size,
            curve=info.get("curve", []),
            start_step=info.get("start_step", 0),
            end_step=info.get("end_step", spec.steps),
        )

    def fit(self, spec: ProbeSpec, train: Sequence[Sample]) -> FittedClip:
        """Train only (e.g. a proxy CLIP for the image-text similarity op); same protocol as `run`."""
        with self._runtime(spec.seed):
            return self._fit(spec, train)[0]

    @contextlib.contextmanager
    def _runtime(self, seed: int):
        """Fixed threads, deterministic kernels and seeded, forked RNGs; all restored afterwards."""
        prev_threads = torch.get_num_threads()
        prev_det = torch.are_deterministic_algorithms_enabled()
        prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        cuda = str(self.device).startswith("cuda")
        if cuda and self.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        devices = [torch.device(self.device).index or 0] if cuda else []
        torch.set_num_threads(self.threads)
        try:
            # CPU kernels used here are deterministic at a fixed thread count; the flag is only set on
            # accelerators (setting it imports torch._inductor, seconds of start-up on CPU).
            if self.deterministic and cuda:
                torch.use_deterministic_algorithms(True, warn_only=True)
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed)
                yield
        finally:
            if self.deterministic and cuda:
                torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
            torch.set_num_threads(prev_threads)

    def _fit(
        self,
        spec: ProbeSpec,
        train: Sequence[Sample],
        score_at: Callable[[FittedClip, int], None] | None = None,
    ) -> tuple[FittedClip, dict[str, Any]]:
        """Train steps ``[start, spec.end_step)`` of the ``spec.steps``-long schedule, where start is 0 or the
        step of ``spec.resume_from``; ``score_at`` is called at each of ``spec.eval_steps`` before the stop."""
        model, tok, size, mean, std, max_len = self._load_model(spec)
        usable, pixels, requested, skipped = self.select_train(spec, train, size)
        fitted = FittedClip(model, tok, size, mean, std, self.device, max_len)
        dev = self.device
        model.to(dev)
        ids, lengths = tok.encode([caption_of(s) for s in usable], max_len)
        px_t = torch.from_numpy(np.ascontiguousarray(pixels)).to(dev)
        ids_t, len_t = torch.from_numpy(ids), torch.from_numpy(lengths)

        n = len(usable)
        order_t = batch_order(spec, n)

        opt, sched = optimizer_and_schedule(
            spec, list(model.named_parameters()), lambda name, p: p.ndim >= 2 and "embedding" not in name
        )
        start, stop = 0, spec.end_step
        if spec.resume_from:
            start = load_checkpoint(spec.resume_from, model, opt, sched, spec)
            if start > stop:
                raise ProbeError(f"checkpoint {spec.resume_from} is at step {start}, past the stop at {stop}")
        eval_at = {s for s in spec.eval_steps if start < s < stop}
        model.train()
        t_train = time.perf_counter()
        scoring = 0.0
        out = None
        for step in range(start, stop):
            b = order_t[step * spec.batch_size : (step + 1) * spec.batch_size]
            input_ids, mask = _text_batch(ids_t[b], len_t[b], dev)
            x = fitted._pixels(px_t[b.to(px_t.device)])
            out = model(input_ids=input_ids, attention_mask=mask, pixel_values=x, return_loss=True)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
            if score_at is not None and step + 1 in eval_at:
                t_score = time.perf_counter()
                score_at(fitted, step + 1)
                model.train()
                scoring += time.perf_counter() - t_score
        if str(dev).startswith("cuda"):
            torch.cuda.synchronize()
        train_time = time.perf_counter() - t_train - scoring
        final_loss = float(out.loss.item()) if out is not None else float("nan")
        if out is not None and not math.isfinite(final_loss):
            raise ProbeError(f"training diverged (final loss {final_loss})")
        if spec.save_checkpoint:
            save_checkpoint(spec.save_checkpoint, model, opt, sched, stop, spec)
        model.eval()
        info = {
            "train_size": n,
            "requested_train_size": requested,
            "skipped_images": skipped,
            "train_time_s": train_time,
            "final_loss": final_loss,
            "start_step": start,
            "end_step": stop,
        }
        return fitted, info

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, fitted: FittedClip, eval: Sequence[Sample]) -> tuple[dict[str, float], int, int]:
        """(metrics, eval pairs used, eval samples skipped for an unreadable/missing image)."""
        usable, pixels, skipped = self._usable(eval, fitted.image_size)
        if len(usable) < 2:
            raise ProbeError(f"eval split has {len(usable)} usable pairs (need >= 2; {skipped} skipped)")
        captions = [caption_of(s) for s in usable]
        img = fitted.embed_images(pixels)
        txt = fitted.embed_texts(captions)
        groups: dict[str, int] = {}
        gid = torch.tensor([groups.setdefault(c.lower(), len(groups)) for c in captions])
        metrics = retrieval_metrics(img @ txt.t(), groups=gid)
        metrics.update(self._zero_shot(fitted, usable, img, txt))
        return metrics, len(usable), skipped

    def _zero_shot(
        self, fitted: FittedClip, rows: Sequence[Sample], img: torch.Tensor, txt: torch.Tensor
    ) -> dict[str, float]:
        attrs: dict[str, dict[int, str]] = {}
        for i, s in enumerate(rows):
            labels = s.extra.get("labels") if isinstance(s.extra, dict) else None
            if isinstance(labels, dict):
                for a, v in labels.items():
                    if v is not None:
                        attrs.setdefault(str(a), {})[i] = str(v)
        out: dict[str, float] = {}
        for attr in sorted(attrs):
            by_row = attrs[attr]
            classes = sorted(set(by_row.values()))
            if len(classes) < 2:
                continue
            cls_index = {c: k for k, c in enumerate(classes)}
            row_idx = torch.tensor(sorted(by_row))
            labels = torch.tensor([cls_index[by_row[i]] for i in sorted(by_row)])
            if self.zero_shot_prompts == "captions":
                protos = torch.zeros(len(classes), txt.shape[1])
                protos.index_add_(0, labels, txt[row_idx])
            else:
                templates = list(self.zero_shot_prompts)
                prompts = [t.format(value=c, attribute=attr) for c in classes for t in templates]
                protos = fitted.embed_texts(prompts).view(len(classes), len(templates), -1).sum(1)
            protos = torch.nn.functional.normalize(protos, dim=-1)
            out[f"zeroshot_{attr}"] = zero_shot_accuracy(img[row_idx], protos, labels)
        if out:
            out["zeroshot"] = float(np.mean(list(out.values())))
        return out


def _checkpoint_key(spec: ProbeSpec) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by ``spec``: the schedule and the model, not the stop."""
    import hashlib

    skip = ("stop_step", "eval_steps", "resume_from", "save_checkpoint", "train_ids")
    key = {k: v for k, v in spec.model_dump(mode="json").items() if k not in skip}
    key["train_ids"] = hashlib.sha256("\0".join(spec.train_ids).encode()).hexdigest()
    return key


def save_checkpoint(path: str, model: Any, opt: Any, sched: Any, step: int, spec: ProbeSpec) -> None:
    """Model, optimizer and schedule at ``step``, written atomically (a killed probe leaves no half file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    state = {
        "step": step,
        "key": _checkpoint_key(spec),
        "model": model.state_dict(),
        "opt": opt.state_dict(),
        "sched": sched.state_dict(),
    }
    torch.save(state, tmp)
    os.replace(tmp, target)


def load_checkpoint(path: str, model: Any, opt: Any, sched: Any, spec: ProbeSpec) -> int:
    """Restore a checkpoint into a freshly built model, optimizer and schedule; returns its step."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as e:
        raise ProbeError(f"cannot read checkpoint {path}: {e}") from e
    if state.get("key") != _checkpoint_key(spec):
        raise ProbeError(f"checkpoint {path} was written by another probe (schedule, model or seed differ)")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    return int(state["step"])


def _image_norm(path: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Pixel mean/std from a checkpoint's preprocessor_config.json (0.5/0.5 when absent)."""
    cfg = path / "preprocessor_config.json"
    if cfg.exists():
        try:
            d = json.loads(cfg.read_text())
            return tuple(d["image_mean"]), tuple(d["image_std"])
        except (KeyError, ValueError, TypeError):
            pass
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
