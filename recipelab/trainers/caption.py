"""The `caption` probe (image-to-text): a tiny transformers `VisionEncoderDecoderModel` (ViT encoder +
GPT-2 decoder with cross-attention) trained from scratch (or a local checkpoint fine-tuned) on a
fixed-size draw of the kept pool, scored by greedy captions of a clean held-out split.

Protocol: the same as `clip` (see clip.py), and the same code where it can be: the training draw
(``train_ids``, ``train_size``, ``min_train_size``, images that do not decode skipped and counted),
fixed compute of ``steps x batch_size`` examples from a seeded stream of epochs, paired seeds (same seed
-> same initial weights and batch order), fixed threads and forked RNGs.

Defaults: `ProbeSpec`'s defaults are the `clip` probe's. Fields a caller did not set explicitly
(pydantic's ``model_fields_set``) take this task's defaults, `CAPTION_PROBE`, instead; fields set
explicitly (``--steps``, a run config's ``probe:``) always win. `resolve_spec` returns the effective
spec; `model_defaults` includes `CAPTION_PROBE`, so changing it changes every probe's cache key.

Metrics (caption_metrics.py), on greedy captions of at most ``max_text_len - 1`` tokens:
``bleu4``, ``cider`` (CIDEr-D), the primary, and when eval rows carry ``labels``: ``attr_{name}``,
``attr_acc`` and ``attr_ref_acc`` (the attribute parser's ceiling), plus ``mean_len`` (words per
generated caption) and ``distinct`` (distinct captions / captions: a collapsed model says one thing).

Why CIDEr is the primary: it is the captioning literature's headline metric and the one that rewards
what data quality changes here. Its IDF weights make the n-grams that every caption shares (``the
background is``) worth almost nothing and the image-specific ones (``three pink rings``) worth most,
so a model trained on mismatched captions, which still writes fluent templates, loses on it; BLEU-4
gives those templates most of its weight. Attribute accuracy is kept as a diagnostic: it exists only on
labelled splits.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recipelab.data.sample import Sample
from recipelab.trainers.base import ProbeError, ProbeResult, ProbeSpec
from recipelab.trainers.caption_metrics import attribute_accuracy, bleu, cider_d
from recipelab.trainers.clip import ClipTrainer, _image_norm, batch_order, caption_of, optimizer_and_schedule
from recipelab.trainers.tokenizer import ProbeTokenizer

log = logging.getLogger(__name__)

#: The caption probe's own defaults for the ProbeSpec fields a caller leaves unset (see module doc).
#: Calibrated on the built-in benchmark (benchmarks/results/calibration_caption.md).
#: Why these: a step of batch 64 costs ~0.17 s of one CPU core here (the decoder's output softmax and
#: HF's per-module overhead dominate), so 200 steps plus captioning 1,000 images stay near 40 s. At
#: 200 x 64 the model has begun to ground colours and shapes (it still repeats a handful of caption
#: templates); fewer steps give a collapsed model that writes one caption for every image, where no
#: pool can be told from another. On the clean pool (seed 0), 200 x 64 at lr 5e-3 reached CIDEr 0.78 where
#: 300 x 32 at lr 3e-3 reached 0.71 (and 100 x 64 at 2e-3, before the vocabulary cap, a collapsed 0.47).
CAPTION_PROBE: dict[str, Any] = {
    "steps": 200,
    "batch_size": 64,
    "lr": 5e-3,
    "primary_metric": "cider",
}

#: The from-scratch sizes (overridable per probe with ProbeSpec.model: {"encoder": {...}, "decoder": {...}}).
DEFAULT_MODEL: dict[str, Any] = {
    "encoder": {  # transformers ViTConfig keys
        "hidden_size": 96,
        "intermediate_size": 192,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "patch_size": None,  # None: image_size // 8 (a 4x4 patch grid at any image size)
        "hidden_act": "gelu",
    },
    "decoder": {  # transformers GPT2Config keys
        "n_embd": 96,
        "n_inner": 192,
        "n_layer": 2,
        "n_head": 2,
        "max_vocab": 512,  # output words: the run tokenizer's most frequent (its ids are by frequency)
        "activation_function": "gelu_new",
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
    },
}
EVAL_BATCH = 500


def resolve_spec(spec: ProbeSpec) -> ProbeSpec:
    """The effective spec: `CAPTION_PROBE` for every field the caller did not set explicitly."""
    unset = {k: v for k, v in CAPTION_PROBE.items() if k not in spec.model_fields_set}
    return spec.model_copy(update=unset) if unset else spec


def output_vocab(tokenizer: ProbeTokenizer, max_vocab: int | None) -> int:
    """The decoder's vocabulary size: the run tokenizer's first ``max_vocab`` ids. Its word-level ids are
    ordered by pool frequency, so this keeps the frequent words and maps the long tail (gibberish, typos,
    one-off spam words) to unk, as captioning vocabularies usually do (words seen >= k times). The output
    softmax dominates a step's cost on CPU; 512 of the built-in benchmark's 3,220 words make a step ~1.5x
    faster and keep every word of its clean captions (about 120). One cap per run: probes stay comparable."""
    if max_vocab is None:
        return tokenizer.vocab_size
    floor = max(tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) + 1
    return max(floor, min(tokenizer.vocab_size, int(max_vocab)))


def build_config(spec: ProbeSpec, tokenizer: ProbeTokenizer, *, device: str = "cpu"):
    """The small from-scratch `VisionEncoderDecoderConfig` (DEFAULT_MODEL merged with spec.model)."""
    from transformers import GPT2Config, VisionEncoderDecoderConfig, ViTConfig

    over = dict(spec.model)
    enc = {**DEFAULT_MODEL["encoder"], **over.pop("encoder", {})}
    dec = {**DEFAULT_MODEL["decoder"], **over.pop("decoder", {})}
    max_vocab = dec.pop("max_vocab", None)
    if over:
        raise ProbeError(f"caption probe model overrides take 'encoder' and 'decoder' dicts, not {sorted(over)}")
    if enc.get("patch_size") is None:
        enc["patch_size"] = max(1, spec.image_size // 8)
    # eager attention is faster than SDPA for these tiny sequences on CPU
    attn = "eager" if device == "cpu" else "sdpa"
    enc_cfg = ViTConfig(**{**enc, "image_size": spec.image_size}, attn_implementation=attn)
    dec_cfg = GPT2Config(
        **dec,
        vocab_size=output_vocab(tokenizer, max_vocab),
        n_positions=spec.max_text_len,
        bos_token_id=tokenizer.bos_id,
        eos_token_id=tokenizer.eos_id,
        pad_token_id=tokenizer.pad_id,
        is_decoder=True,
        add_cross_attention=True,
        attn_implementation=attn,
    )
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc_cfg, dec_cfg)
    cfg.decoder_start_token_id = tokenizer.bos_id
    cfg.pad_token_id = tokenizer.pad_id
    cfg.eos_token_id = tokenizer.eos_id
    return cfg


@dataclass
class FittedCaptioner:
    """A trained caption model with what is needed to caption new images."""

    model: Any  # transformers VisionEncoderDecoderModel
    tokenizer: ProbeTokenizer
    image_size: int
    image_mean: tuple[float, ...]
    image_std: tuple[float, ...]
    device: str
    max_text_len: int
    start_id: int

    def pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(self.device, non_blocking=True).float().div_(255.0)
        mean = torch.tensor(self.image_mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Caption -> (ids (N, L), lengths): start token, the words, eos, right-padded; truncated keeping
        eos. A checkpoint tokenizer (GPT-2's adds neither bos nor eos) is wrapped the same way."""
        tok, L = self.tokenizer, self.max_text_len
        if tok.tokenizer is not None:
            ids, lengths = tok.encode(list(texts), L)
            ids[ids >= self.model.config.decoder.vocab_size] = tok.unk_id  # the capped long tail
            return ids, lengths
        body = tok.hf_tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        ids = np.full((len(body), L), tok.pad_id, dtype=np.int64)
        lengths = np.zeros(len(body), dtype=np.int64)
        for i, row in enumerate(body):
            row = [self.start_id, *row[: L - 2], tok.eos_id]
            ids[i, : len(row)] = row
            lengths[i] = len(row)
        return ids, lengths

    @torch.no_grad()
    def generate(self, pixels: np.ndarray | torch.Tensor, max_new_tokens: int | None = None) -> list[str]:
        """Greedy captions of uint8 images (N, 3, s, s)."""
        from transformers import GenerationConfig

        self.model.eval()
        px = torch.as_tensor(np.asarray(pixels)) if not isinstance(pixels, torch.Tensor) else pixels
        gen = GenerationConfig(
            max_new_tokens=max_new_tokens or self.max_text_len - 1,
            do_sample=False,
            num_beams=1,
            decoder_start_token_id=self.start_id,
            bos_token_id=self.start_id,
            eos_token_id=self.tokenizer.eos_id,
            pad_token_id=self.tokenizer.pad_id,
        )
        out: list[str] = []
        for s in range(0, len(px), EVAL_BATCH):
            seqs = self.model.generate(pixel_values=self.pixels(px[s : s + EVAL_BATCH]), generation_config=gen)
            out.extend(self.tokenizer.decode(row.tolist()) for row in seqs.cpu())
        return out


class CaptionTrainer(ClipTrainer):
    """Runs `caption` probes. Same constructor as `ClipTrainer` (the run's tokenizer, image banks,
    device, threads), whose draw, image and runtime helpers it shares so both tasks follow one protocol.

    The zero-shot option of `ClipTrainer` does not apply; attribute accuracy parses generated captions.
    """

    task = "caption"

    @staticmethod
    def model_defaults() -> dict[str, Any]:
        """The built-in model sizes and probe defaults (part of the probe cache key)."""
        return {**DEFAULT_MODEL, "probe": CAPTION_PROBE}

    @staticmethod
    def resolve_spec(spec: ProbeSpec) -> ProbeSpec:
        return resolve_spec(spec)

    # ------------------------------------------------------------------ model
    def _load_caption_model(self, spec: ProbeSpec) -> FittedCaptioner:
        from transformers import VisionEncoderDecoderModel

        if spec.checkpoint:
            path = Path(spec.checkpoint)
            if not path.is_dir():
                raise ProbeError(f"checkpoint {spec.checkpoint!r} is not a local folder")
            attn = "eager" if self.device == "cpu" else "sdpa"
            try:
                model = VisionEncoderDecoderModel.from_pretrained(
                    str(path), local_files_only=True, attn_implementation=attn
                )
            except (OSError, ValueError) as e:
                raise ProbeError(f"checkpoint {spec.checkpoint!r}: not a VisionEncoderDecoderModel ({e})") from e
            max_len = min(spec.max_text_len, int(model.config.decoder.n_positions))
            tok = ProbeTokenizer.from_pretrained(path, max_len=max_len)
            start = model.config.decoder_start_token_id
            start = tok.bos_id if start is None else int(start)
            if start is None:
                raise ProbeError(f"checkpoint {spec.checkpoint!r} has no decoder_start_token_id nor bos token")
            size = model.config.encoder.image_size
            size = size[0] if isinstance(size, (list, tuple)) else int(size)
            mean, std = _image_norm(path)
            return FittedCaptioner(model.float(), tok, size, mean, std, self.device, max_len, start)
        if self.tokenizer is None:
            raise ProbeError("no tokenizer: build the run's tokenizer (ProbeTokenizer.build_or_load) first")
        tok = self.tokenizer.with_max_len(spec.max_text_len)
        model = VisionEncoderDecoderModel(build_config(spec, tok, device=self.device))
        half = (0.5, 0.5, 0.5)
        return FittedCaptioner(model, tok, spec.image_size, half, half, self.device, spec.max_text_len, tok.bos_id)

    # ------------------------------------------------------------------ protocol
    def run(self, spec: ProbeSpec, train: Sequence[Sample], eval: Sequence[Sample]) -> ProbeResult:
        t0 = time.perf_counter()
        if spec.task != self.task:
            raise ProbeError(f"CaptionTrainer runs task 'caption', not {spec.task!r}")
        if spec.stop_step or spec.resume_from or spec.eval_steps:
            raise ProbeError("multi-fidelity probes (stop_step, resume_from, eval_steps) are built for 'clip' only")
        spec = resolve_spec(spec)
        with self._runtime(spec.seed):
            fitted, info = self._fit_caption(spec, train)
            t_eval = time.perf_counter()
            metrics, eval_size, eval_skipped = self.evaluate(fitted, eval)
            eval_time = time.perf_counter() - t_eval
        return self._probe_result(spec, info, metrics, eval_size, eval_skipped, t0, eval_time)

    def fit(self, spec: ProbeSpec, train: Sequence[Sample]) -> FittedCaptioner:  # type: ignore[override]
        """Train only; same protocol as `run` (calibration scores one model on several splits)."""
        if spec.task != self.task:
            raise ProbeError(f"CaptionTrainer runs task 'caption', not {spec.task!r}")
        spec = resolve_spec(spec)
        with self._runtime(spec.seed):
            return self._fit_caption(spec, train)[0]

    def _fit_caption(self, spec: ProbeSpec, train: Sequence[Sample]) -> tuple[FittedCaptioner, dict[str, Any]]:
        fitted = self._load_caption_model(spec)
        model, dev = fitted.model, self.device
        usable, pixels, requested, skipped = self.select_train(spec, train, fitted.image_size)
        model.to(dev)
        ids, lengths = fitted.encode([caption_of(s) for s in usable])
        px_t = torch.from_numpy(np.ascontiguousarray(pixels)).to(dev)
        ids_t, len_t = torch.from_numpy(ids), torch.from_numpy(lengths)

        n = len(usable)
        order_t = batch_order(spec, n)

        def decays(name: str, p: torch.nn.Parameter) -> bool:
            return p.ndim >= 2 and "embed" not in name and "wte" not in name and "wpe" not in name

        params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        opt, sched = optimizer_and_schedule(spec, params, decays)
        model.train()
        t_train = time.perf_counter()
        loss = torch.tensor(float("nan"))
        for step in range(spec.steps):
            b = order_t[step * spec.batch_size : (step + 1) * spec.batch_size]
            lb = len_t[b]
            width = max(int(lb.max()), 2)
            seq = ids_t[b, :width].to(dev, non_blocking=True)
            # teacher forcing: read tokens 0..L-2, predict 1..L-1; padding is never a target. (With right
            # padding a causal decoder's real tokens never see the pads; the mask only says so to HF.)
            pos, n_tok = torch.arange(width - 1)[None, :].to(dev), lb[:, None].to(dev)
            target = seq[:, 1:].masked_fill(pos >= n_tok - 1, -100)
            out = model(
                pixel_values=fitted.pixels(px_t[b.to(px_t.device)]),
                decoder_input_ids=seq[:, :-1],
                decoder_attention_mask=(pos < n_tok).long(),
            )
            loss = torch.nn.functional.cross_entropy(
                out.logits.reshape(-1, out.logits.shape[-1]).float(), target.reshape(-1), ignore_index=-100
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
        if str(dev).startswith("cuda"):
            torch.cuda.synchronize()
        train_time = time.perf_counter() - t_train
        final_loss = float(loss.item())
        if not math.isfinite(final_loss):
            raise ProbeError(f"training diverged (final loss {final_loss})")
        model.eval()
        info = {
            "train_size": n,
            "requested_train_size": requested,
            "skipped_images": skipped,
            "train_time_s": train_time,
            "final_loss": final_loss,
        }
        return fitted, info

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, fitted: FittedCaptioner, eval: Sequence[Sample]) -> tuple[dict[str, float], int, int]:  # type: ignore[override]
        """(metrics, eval pairs used, eval samples skipped for an unreadable/missing image)."""
        usable, pixels, skipped = self._usable(eval, fitted.image_size)
        if len(usable) < 2:
            raise ProbeError(f"eval split has {len(usable)} usable pairs (need >= 2; {skipped} skipped)")
        refs = [caption_of(s) for s in usable]
        gen = fitted.generate(pixels)
        cider, _ = cider_d(gen, refs)
        metrics: dict[str, float] = {
            "cider": cider,
            "bleu4": bleu(gen, refs),
            "mean_len": float(np.mean([len(g.split()) for g in gen])),
            "distinct": len(set(gen)) / len(gen),
        }
        labels = [s.extra.get("labels") if isinstance(s.extra, dict) else None for s in usable]
        metrics.update(attribute_accuracy(gen, refs, labels))
        return metrics, len(usable), skipped

    def captions(self, fitted: FittedCaptioner, samples: Sequence[Sample]) -> list[tuple[str, str]]:
        """(sample id, generated caption) for the samples whose image decodes: for reading, reports."""
        usable, pixels, _ = self._usable(samples, fitted.image_size)
        return list(zip([s.id for s in usable], fitted.generate(pixels), strict=True))
