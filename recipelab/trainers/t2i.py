"""The `t2i` probe (text-to-image): a tiny diffusers `UNet2DConditionModel` (pixel space) conditioned on a
small transformers text encoder, both trained from scratch with a diffusers noise scheduler on a fixed-size
draw of the kept pool, scored by images it generates for the prompts of a clean held-out split.

Resolution: the data stay at the run's image size (32 px); the model generates at ``diffusion.resolution``
(16 px by default on CPU: a 32 px step costs ~4x as much, and at 32 px the 90 s CPU budget ends before
text conditioning takes hold); pool, split and reference images are area-downsampled to it from the 32 px
bank. Set ``{"diffusion": {"resolution": 32}}`` (and more steps) on a GPU.

Protocol: the same as `clip` and `caption` (the training draw, fixed compute of ``steps x batch_size``
examples from a seeded stream of epochs, paired seeds, fixed threads and forked RNGs); unset ProbeSpec
fields take this task's defaults, `T2I_PROBE` (see caption.py for the rule).

Training: DDPM noise-prediction loss (epsilon) at uniform timesteps; the caption is replaced by the empty
caption with probability ``cond_dropout`` so the same model also learns the unconditional score, which
classifier-free guidance needs at sampling time.

Scoring (the issue's two metrics; all higher-is-better except ``fd``):
- A **reference CLIP** is trained once per split on that clean split (`ClipTrainer`, `REFERENCE`), at the
  generation resolution, cached on disk by a fingerprint of the split's ids and captions and the reference
  config (the fingerprint is logged and names the cache file; the config is part of every probe's cache
  key). It never sees the pool. Or a user's local CLIPModel (``{"reference": {"checkpoint": DIR}}``).
- ``eval_prompts`` prompts of the split (the first ones, the same for every probe) are generated with a
  DDIM sampler (``sample_steps``; classifier-free guidance when ``guidance`` != 1) from noise seeded by the
  probe's seed, so probes with the same seed start from the same noise (paired). The model predicts the
  clean image (``prediction_type: sample``): at this training budget that learned the prompts' colours
  where epsilon prediction had not.
- ``clip_score``: mean reference cosine of each generated image with its own prompt (CLIPScore's quantity,
  without its 2.5x rescaling): the primary, since it needs no labels and, in calibration, separated the
  oracle from no filter where recall did not (few generated images are retrieved at rank 1 at this scale).
- ``ref_recall`` / ``ref_mean_recall``: recall@1 (image->text) and mean recall of the generated images
  against the prompts under the reference (identical prompts count as one).
- ``zeroshot_{attr}`` / ``zeroshot``: the reference's zero-shot attribute accuracy on the generated images
  against the prompt's labels (rows with ``labels`` only): e.g. is the background the prompt's colour.
- ``fd``: Frechet distance between the reference's image embeddings of generated and real images of the same
  prompts (an FID computed in a small CLIP's feature space instead of Inception's; lower is better).
- ``ref_real_recall``: the same recall for the real images: the ceiling of ``ref_recall`` on this split.
"""

from __future__ import annotations

import hashlib
import json
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
from recipelab.trainers.clip import (
    ClipTrainer,
    FittedClip,
    _text_batch,
    batch_order,
    caption_of,
    optimizer_and_schedule,
)
from recipelab.trainers.metrics import retrieval_metrics
from recipelab.trainers.tokenizer import ProbeTokenizer

log = logging.getLogger(__name__)

#: The t2i probe's own defaults for the ProbeSpec fields a caller leaves unset (benchmarks/results/
#: calibration_t2i.md). At the 16 px generation resolution a step of batch 32 costs ~0.13 s of one CPU
#: core with DEFAULT_MODEL; conditioning takes hold between 150 steps (background colour of generated
#: images at chance) and 400 (84% right, read off the corner pixels, oracle pool, seed 0).
T2I_PROBE: dict[str, Any] = {
    "steps": 500,
    "batch_size": 32,
    "lr": 5e-3,
    "weight_decay": 0.0,
    "primary_metric": "clip_score",
}

#: From-scratch sizes (overridable per probe with ProbeSpec.model: {"unet": {...}, "text": {...},
#: "diffusion": {...}}). Cross-attention only at the 8x8 level and in the mid block, and no self-attention
#: (only_cross_attention): attention over the 1,024 positions of a 32x32 map made a step 5x slower on CPU.
DEFAULT_MODEL: dict[str, Any] = {
    "unet": {  # diffusers UNet2DConditionModel keys
        "block_out_channels": [16, 32, 64],
        "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
        "attention_head_dim": 8,
        "norm_num_groups": 8,
        "only_cross_attention": True,
        # the pooled caption is also added to the timestep embedding, so every ResNet block sees it: global
        # attributes (background, colour) are learned within the CPU budget, where cross-attention alone
        # had not learned them after 150 steps
        "addition_embed_type": "text",
        "addition_embed_type_num_heads": 4,
    },
    "text": {  # transformers CLIPTextConfig keys
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "hidden_act": "gelu",
    },
    "diffusion": {
        "resolution": 16,
        "train_timesteps": 1000,
        "beta_schedule": "squaredcos_cap_v2",
        "prediction_type": "sample",
        "cond_dropout": 0.1,
        "sample_steps": 10,
        "guidance": 1.0,
        "eval_prompts": 500,
    },
}

#: The reference CLIP that scores generated images: a `clip` probe trained on the clean split itself.
#: ``checkpoint``: a local CLIPModel folder to score with instead (a user's own CLIP; used as it is).
REFERENCE: dict[str, Any] = {"steps": 300, "batch_size": 128, "lr": 2e-3, "seed": 0}
REFERENCE_KEYS = (*REFERENCE, "checkpoint", "model")
EVAL_BATCH = 256


def resolve_spec(spec: ProbeSpec) -> ProbeSpec:
    """The effective spec: `T2I_PROBE` for every field the caller did not set explicitly."""
    unset = {k: v for k, v in T2I_PROBE.items() if k not in spec.model_fields_set}
    return spec.model_copy(update=unset) if unset else spec


def model_sections(spec: ProbeSpec) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(unet, text, diffusion, reference) settings: DEFAULT_MODEL and REFERENCE merged with spec.model."""
    over = dict(spec.model)
    unet = {**DEFAULT_MODEL["unet"], **over.pop("unet", {})}
    text = {**DEFAULT_MODEL["text"], **over.pop("text", {})}
    diff = {**DEFAULT_MODEL["diffusion"], **over.pop("diffusion", {})}
    ref = {**REFERENCE, **over.pop("reference", {})}
    if over:
        raise ProbeError(
            f"t2i probe model overrides take 'unet', 'text', 'diffusion' and 'reference' dicts, not {sorted(over)}"
        )
    for name, got, known in (("diffusion", diff, DEFAULT_MODEL["diffusion"]), ("reference", ref, REFERENCE_KEYS)):
        unknown = set(got) - set(known)
        if unknown:
            raise ProbeError(f"t2i probe: unknown {name} setting(s) {sorted(unknown)}")
    if diff["prediction_type"] not in ("epsilon", "sample", "v_prediction"):
        raise ProbeError(
            f"t2i probe: prediction_type {diff['prediction_type']!r} is not epsilon, sample or v_prediction"
        )
    return unet, text, diff, ref


@dataclass
class FittedT2I:
    """A trained text-to-image model with what is needed to generate images for new prompts."""

    unet: Any  # diffusers UNet2DConditionModel
    text: Any  # transformers CLIPTextModel
    tokenizer: ProbeTokenizer
    image_size: int
    device: str
    max_text_len: int
    diffusion: dict[str, Any]
    reference: dict[str, Any]
    #: the probe's seed: it also seeds the sampling noise, so two models of the same seed are scored alike
    seed: int = 0

    def encode_text(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Captions -> (hidden states (N, L, d), attention mask (N, L)) on the device."""
        ids, lengths = self.tokenizer.encode(list(texts), self.max_text_len)
        input_ids, mask = _text_batch(torch.from_numpy(ids), torch.from_numpy(lengths), self.device)
        return self.text(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], seed: int) -> np.ndarray:
        """uint8 images (N, 3, s, s) for ``prompts``: DDIM with classifier-free guidance, from noise seeded by
        ``seed`` (the same seed gives every model the same starting noise)."""
        from diffusers import DDIMScheduler

        self.unet.eval()
        self.text.eval()
        d = self.diffusion
        sched = DDIMScheduler(
            num_train_timesteps=int(d["train_timesteps"]),
            beta_schedule=d["beta_schedule"],
            prediction_type=d["prediction_type"],
        )
        sched.set_timesteps(int(d["sample_steps"]))
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        s = self.image_size
        noise = torch.randn(len(prompts), 3, s, s, generator=gen)
        guidance = float(d["guidance"])
        out = []
        for b in range(0, len(prompts), EVAL_BATCH):
            chunk = list(prompts[b : b + EVAL_BATCH])
            cond, cmask = self.encode_text(chunk)
            x = noise[b : b + len(chunk)].to(self.device)
            if guidance == 1.0:  # plain conditional sampling: no unconditional pass needed
                for t in sched.timesteps:
                    out_t = self.unet(x, t, encoder_hidden_states=cond, encoder_attention_mask=cmask).sample
                    x = sched.step(out_t, t, x).prev_sample
            else:
                uncond, umask = self.encode_text([""] * len(chunk))
                width = max(cond.shape[1], uncond.shape[1])
                cond, cmask = _pad_to(cond, cmask, width)
                uncond, umask = _pad_to(uncond, umask, width)
                ctx, ctx_mask = torch.cat([uncond, cond]), torch.cat([umask, cmask])
                for t in sched.timesteps:
                    pair = self.unet(torch.cat([x, x]), t, encoder_hidden_states=ctx, encoder_attention_mask=ctx_mask)
                    eu, ec = pair.sample.chunk(2)
                    x = sched.step(eu + guidance * (ec - eu), t, x).prev_sample
            out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 3, s, s), dtype=np.uint8)


def _pad_to(h: torch.Tensor, mask: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    pad = width - h.shape[1]
    if pad <= 0:
        return h, mask
    return torch.nn.functional.pad(h, (0, 0, 0, pad)), torch.nn.functional.pad(mask, (0, pad))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples), as FID computes it:
    |mu_a - mu_b|^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2). The matrix square root is taken through the symmetric
    form Sa^1/2 Sb Sa^1/2, whose eigenvalues are real and non-negative, so no complex parts arise."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("frechet_distance needs >= 2 samples per set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    wa, va = np.linalg.eigh(sa)
    root_a = (va * np.sqrt(np.clip(wa, 0, None))) @ va.T
    mid = root_a @ sb @ root_a
    tr_cross = float(np.sqrt(np.clip(np.linalg.eigvalsh((mid + mid.T) / 2), 0, None)).sum())
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * tr_cross)


class T2ITrainer(ClipTrainer):
    """Runs `t2i` probes. Same constructor as `ClipTrainer` (the run's tokenizer, image banks, device,
    threads); its draw, image and runtime helpers are shared so all tasks follow one protocol.

    cache_dir: where reference CLIPs are kept between processes (ProbeEnv sets it to the workspace's
        cache); None keeps them for this process only.
    """

    task = "t2i"
    cache_dir: Path | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._references: dict[str, FittedClip] = {}

    @staticmethod
    def model_defaults() -> dict[str, Any]:
        """The built-in model sizes, probe defaults and reference config (part of the probe cache key)."""
        return {**DEFAULT_MODEL, "probe": T2I_PROBE, "reference": REFERENCE}

    @staticmethod
    def resolve_spec(spec: ProbeSpec) -> ProbeSpec:
        return resolve_spec(spec)

    # ------------------------------------------------------------------ images
    def _pixels_for(self, paths: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
        """As ClipTrainer's, and a size no bank holds is area-downsampled from a bank whose size is a multiple
        of it (the run's 32 px bank serves the 16 px generation resolution): the pool, the real images of
        the split and the reference CLIP's training images all go through this one path."""
        if not any(b.size == size for b in self.banks):
            for bank in sorted(self.banks, key=lambda b: b.size):
                if bank.size > size and bank.size % size == 0:
                    px, ok = super()._pixels_for(paths, bank.size)
                    small = torch.nn.functional.avg_pool2d(torch.from_numpy(px).float(), bank.size // size)
                    return small.round().clamp(0, 255).to(torch.uint8).numpy(), ok
        return super()._pixels_for(paths, size)

    # ------------------------------------------------------------------ model
    def _build(self, spec: ProbeSpec) -> FittedT2I:
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel

        if spec.checkpoint:
            raise ProbeError("the t2i probe trains from scratch; checkpoints are not supported for it yet")
        if self.tokenizer is None:
            raise ProbeError("no tokenizer: build the run's tokenizer (ProbeTokenizer.build_or_load) first")
        unet_cfg, text_cfg, diff, ref = model_sections(spec)
        tok = self.tokenizer.with_max_len(spec.max_text_len)
        attn = "eager" if self.device == "cpu" else "sdpa"
        text = CLIPTextModel(
            CLIPTextConfig(
                **text_cfg,
                vocab_size=tok.vocab_size,
                max_position_embeddings=spec.max_text_len,
                pad_token_id=tok.pad_id,
                bos_token_id=tok.bos_id,
                eos_token_id=tok.eos_id,
                attn_implementation=attn,
            )
        )
        res = int(diff["resolution"]) if diff.get("resolution") else spec.image_size
        if res < 8 or spec.image_size % res:
            raise ProbeError(
                f"t2i probe: diffusion resolution {res} must be >= 8 and divide the image size {spec.image_size}"
            )
        try:
            unet = UNet2DConditionModel(
                sample_size=res,
                in_channels=3,
                out_channels=3,
                cross_attention_dim=int(text_cfg["hidden_size"]),
                **{k: tuple(v) if isinstance(v, list) else v for k, v in unet_cfg.items()},
            )
        except (TypeError, ValueError) as e:
            raise ProbeError(f"t2i probe: invalid unet config ({e})") from e
        return FittedT2I(unet, text, tok, res, self.device, spec.max_text_len, diff, ref)

    # ------------------------------------------------------------------ protocol
    def run(self, spec: ProbeSpec, train: Sequence[Sample], eval: Sequence[Sample]) -> ProbeResult:
        t0 = time.perf_counter()
        if spec.task != self.task:
            raise ProbeError(f"T2ITrainer runs task 't2i', not {spec.task!r}")
        if spec.stop_step or spec.resume_from or spec.eval_steps:
            raise ProbeError("multi-fidelity probes (stop_step, resume_from, eval_steps) are built for 'clip' only")
        spec = resolve_spec(spec)
        with self._runtime(spec.seed):
            fitted, info = self._fit_t2i(spec, train)
            t_eval = time.perf_counter()
            metrics, eval_size, eval_skipped = self._score(fitted, eval, fitted.seed)
            eval_time = time.perf_counter() - t_eval
        return self._probe_result(spec, info, metrics, eval_size, eval_skipped, t0, eval_time)

    def fit(self, spec: ProbeSpec, train: Sequence[Sample]) -> FittedT2I:  # type: ignore[override]
        """Train only; same protocol as `run` (calibration scores one model on several splits)."""
        if spec.task != self.task:
            raise ProbeError(f"T2ITrainer runs task 't2i', not {spec.task!r}")
        spec = resolve_spec(spec)
        with self._runtime(spec.seed):
            return self._fit_t2i(spec, train)[0]

    def _fit_t2i(self, spec: ProbeSpec, train: Sequence[Sample]) -> tuple[FittedT2I, dict[str, Any]]:
        from diffusers import DDPMScheduler

        fitted = self._build(spec)
        fitted.seed = spec.seed
        unet, text, dev, d = fitted.unet, fitted.text, self.device, fitted.diffusion
        usable, pixels, requested, skipped = self.select_train(spec, train, fitted.image_size)
        unet.to(dev)
        text.to(dev)
        ids, lengths = fitted.tokenizer.encode([caption_of(s) for s in usable], spec.max_text_len)
        empty_ids, empty_len = fitted.tokenizer.encode([""], spec.max_text_len)
        px_t = torch.from_numpy(np.ascontiguousarray(pixels))
        ids_t, len_t = torch.from_numpy(ids), torch.from_numpy(lengths)
        empty_t, empty_len_t = torch.from_numpy(empty_ids[0]), int(empty_len[0])

        n = len(usable)
        order_t = batch_order(spec, n)
        noise_sched = DDPMScheduler(
            num_train_timesteps=int(d["train_timesteps"]),
            beta_schedule=d["beta_schedule"],
            prediction_type=d["prediction_type"],
        )
        T = int(d["train_timesteps"])
        drop_p = float(d["cond_dropout"])

        def decays(name: str, p: torch.nn.Parameter) -> bool:
            return p.ndim >= 2 and "embedding" not in name

        params = [(f"unet.{k}", p) for k, p in unet.named_parameters()]
        params += [(f"text.{k}", p) for k, p in text.named_parameters()]
        opt, sched = optimizer_and_schedule(spec, params, decays)
        unet.train()
        text.train()
        t_train = time.perf_counter()
        loss = torch.tensor(float("nan"))
        for step in range(spec.steps):
            b = order_t[step * spec.batch_size : (step + 1) * spec.batch_size]
            bid, blen = ids_t[b].clone(), len_t[b].clone()
            drop = torch.rand(len(b)) < drop_p
            if drop.any():
                bid[drop] = empty_t
                blen[drop] = empty_len_t
            input_ids, mask = _text_batch(bid, blen, dev)
            ctx = text(input_ids=input_ids, attention_mask=mask).last_hidden_state
            x0 = px_t[b].to(dev).float().div_(127.5).sub_(1.0)
            noise = torch.randn_like(x0)
            t = torch.randint(0, T, (len(b),), device=dev)
            xt = noise_sched.add_noise(x0, noise, t)
            pred = unet(xt, t, encoder_hidden_states=ctx, encoder_attention_mask=mask).sample
            if d["prediction_type"] == "sample":
                target = x0
            elif d["prediction_type"] == "v_prediction":
                target = noise_sched.get_velocity(x0, noise, t)
            else:
                target = noise
            loss = torch.nn.functional.mse_loss(pred.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
            opt.step()
            sched.step()
        if str(dev).startswith("cuda"):
            torch.cuda.synchronize()
        train_time = time.perf_counter() - t_train
        final_loss = float(loss.item())
        if not math.isfinite(final_loss):
            raise ProbeError(f"training diverged (final loss {final_loss})")
        unet.eval()
        text.eval()
        info = {
            "train_size": n,
            "requested_train_size": requested,
            "skipped_images": skipped,
            "train_time_s": train_time,
            "final_loss": final_loss,
        }
        return fitted, info

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, fitted: FittedT2I, eval: Sequence[Sample]) -> tuple[dict[str, float], int, int]:  # type: ignore[override]
        """(metrics, prompts scored, eval samples skipped); the sampling noise is seeded by the fit's seed."""
        return self._score(fitted, eval, fitted.seed)

    def _score(self, fitted: FittedT2I, eval: Sequence[Sample], seed: int) -> tuple[dict[str, float], int, int]:
        usable, pixels, skipped = self._usable(eval, fitted.image_size)
        if len(usable) < 2:
            raise ProbeError(f"eval split has {len(usable)} usable pairs (need >= 2; {skipped} skipped)")
        ref = self.reference(usable, pixels, fitted.reference)
        k = min(len(usable), int(fitted.diffusion["eval_prompts"]))
        rows, real = usable[:k], pixels[:k]
        prompts = [caption_of(s) for s in rows]
        gen = fitted.generate(prompts, seed)
        img_gen, img_real, txt = ref.embed_images(gen), ref.embed_images(real), ref.embed_texts(prompts)
        groups: dict[str, int] = {}
        gid = torch.tensor([groups.setdefault(c.lower(), len(groups)) for c in prompts])
        r_gen = retrieval_metrics(img_gen @ txt.t(), groups=gid)
        r_real = retrieval_metrics(img_real @ txt.t(), groups=gid)
        metrics: dict[str, float] = {
            "ref_recall": r_gen["i2t_r@1"],
            "ref_mean_recall": r_gen["mean_recall"],
            "clip_score": float((img_gen * txt).sum(-1).mean()),
            "fd": frechet_distance(img_gen.numpy(), img_real.numpy()),
            "ref_real_recall": r_real["i2t_r@1"],
            "pixel_std": float(gen.astype(np.float32).std()),
        }
        metrics.update({k: v for k, v in self._zero_shot(ref, rows, img_gen, txt).items()})
        return metrics, k, skipped

    # ------------------------------------------------------------------ the reference scorer
    def reference(self, rows: Sequence[Sample], pixels: np.ndarray, config: dict[str, Any] | None = None) -> FittedClip:
        """The reference CLIP of this split: trained on its clean rows once (deterministic given the config),
        kept in memory and, with a cache_dir, on disk under a fingerprint of the rows and the config; or the
        local CLIPModel of ``config["checkpoint"]``, used as it is."""
        config = {**REFERENCE, **(config or {})}
        if config.get("checkpoint"):
            key = f"checkpoint:{config['checkpoint']}"
            if key not in self._references:
                spec = ProbeSpec(task="clip", checkpoint=str(config["checkpoint"]))
                try:
                    model, tok, size, mean, std, max_len = self._load_model(spec)
                except OSError as e:
                    raise ProbeError(f"t2i reference checkpoint {config['checkpoint']!r}: {e}") from e
                self._references[key] = FittedClip(
                    model.to(self.device).eval(), tok, size, mean, std, self.device, max_len
                )
            ref = self._references[key]
            if ref.image_size != pixels.shape[-1]:
                raise ProbeError(
                    f"t2i reference checkpoint {config['checkpoint']!r} takes {ref.image_size} px images; "
                    f"the probe generates {pixels.shape[-1]} px (set the t2i diffusion resolution to match)"
                )
            return ref
        h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        h.update(str(pixels.shape[-1]).encode())
        for s in rows:
            h.update(s.id.encode() + b"\0" + caption_of(s).encode() + b"\0")
        fp = h.hexdigest()[:16]
        if fp in self._references:
            return self._references[fp]
        path = Path(self.cache_dir) / f"t2i-reference-{fp}.pt" if self.cache_dir else None
        spec = ProbeSpec(
            task="clip",
            steps=int(config["steps"]),
            batch_size=int(config["batch_size"]),
            lr=float(config["lr"]),
            seed=int(config["seed"]),
            image_size=int(pixels.shape[-1]),
            model=dict(config.get("model") or {}),
            min_train_size=2,
        )
        model, tok, size, mean, std, max_len = self._load_model(spec)
        fitted = FittedClip(model, tok, size, mean, std, self.device, max_len)
        if path is not None and path.exists():
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            model.to(self.device).eval()
            log.info("t2i reference CLIP %s loaded from %s", fp, path)
        else:
            t0 = time.perf_counter()
            with self._runtime(spec.seed):
                fitted = ClipTrainer._fit(self, spec, list(rows))[0]
            log.info(
                "t2i reference CLIP %s trained on %d clean rows in %.1f s", fp, len(rows), time.perf_counter() - t0
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                torch.save(fitted.model.state_dict(), tmp)
                tmp.replace(path)
        self._references[fp] = fitted
        return fitted
