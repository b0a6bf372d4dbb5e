"""image_text_similarity_filter: local CLIP checkpoint path and the self-trained proxy CLIP."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recipelab.data.sample import EOC_TOKEN, IMAGE_TOKEN, Sample
from recipelab.operators.base import OpContext, Stat
from recipelab.operators.image_text import ImageTextSimilarityFilter

COLORS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (230, 220, 30)}
SHAPES = ["circle", "square", "triangle"]


def make_shapes(root, n, seed=0, shuffle=0.2, size=32):
    """Coloured shapes captioned 'a red circle'; a fraction ``shuffle`` of captions permuted."""
    rng = np.random.default_rng(seed)
    paths, caps = [], []
    for i in range(n):
        c, sh = list(COLORS)[rng.integers(len(COLORS))], SHAPES[rng.integers(len(SHAPES))]
        im = Image.new("RGB", (size, size), tuple(int(x) for x in rng.integers(150, 256, 3)))
        d = ImageDraw.Draw(im)
        r = int(rng.integers(size // 5, size // 3))
        cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
        if sh == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=COLORS[c])
        elif sh == "square":
            d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=COLORS[c])
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLORS[c])
        p = root / f"{i}.png"
        im.save(p)
        paths.append(str(p))
        caps.append(f"a {c} {sh}")
    caps = np.array(caps, dtype=object)
    idx = np.flatnonzero(rng.random(n) < shuffle)
    shuffled = caps.copy()
    shuffled[idx] = caps[rng.permutation(idx)]
    return paths, list(shuffled), shuffled != caps


def auc(pos, neg):
    pos, neg = np.asarray(pos), np.asarray(neg)
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def test_defaults_match_data_juicer():
    p = ImageTextSimilarityFilter().params
    assert p.hf_clip == "openai/clip-vit-base-patch32" and p.trust_remote_code is False
    assert (p.min_score, p.max_score, p.any_or_all, p.reduce_mode) == (0.1, 1.0, "any", "avg")
    assert (p.horizontal_flip, p.vertical_flip) == (False, False)
    assert ImageTextSimilarityFilter.stats_keys == ("image_text_similarity",)
    assert "min_score" not in ImageTextSimilarityFilter.stat_params
    assert "reduce_mode" in ImageTextSimilarityFilter.stat_params
    with pytest.raises(ValueError):
        ImageTextSimilarityFilter({"reduce_mode": "median"})


@pytest.mark.slow
def test_proxy_separates_matched_from_shuffled(tmp_path):
    paths, caps, mism = make_shapes(tmp_path, 600, seed=1)
    samples = [Sample(id=str(i), text=c, images=[p]) for i, (p, c) in enumerate(zip(paths, caps, strict=True))]
    op = ImageTextSimilarityFilter({"hf_clip": "proxy"})
    op.setup(OpContext(samples=samples, cache_dir=str(tmp_path), dataset_fingerprint="x"))
    st = op.compute_stats(samples)["image_text_similarity"]
    assert st.offsets.tolist() == list(range(601))
    v = st.values
    assert np.isfinite(v).all() and (v >= -1.0001).all() and (v <= 1.0001).all()
    assert v[~mism].mean() - v[mism].mean() > 0.2
    assert auc(v[~mism], v[mism]) > 0.8
    # deterministic given the seed
    op2 = ImageTextSimilarityFilter({"hf_clip": "proxy"})
    op2.setup(OpContext(samples=samples, cache_dir=str(tmp_path), dataset_fingerprint="x"))
    np.testing.assert_allclose(op2.compute_stats(samples)["image_text_similarity"].values, v, atol=1e-6)
    # samples not in the fitted pool are scored by the fold models' ensemble
    new = [Sample(id="new", text="a red circle", images=[paths[0]])]
    assert np.isfinite(op.compute_stats(new)["image_text_similarity"].values).all()


def test_proxy_chunks_no_image_and_unreadable(tmp_path):
    paths, caps, _ = make_shapes(tmp_path, 40, seed=2, shuffle=0.0)
    (tmp_path / "bad.png").write_bytes(b"")
    bad = str(tmp_path / "bad.png")
    samples = [Sample(id=str(i), text=c, images=[p]) for i, (p, c) in enumerate(zip(paths, caps, strict=True))]
    two_chunks = f"{IMAGE_TOKEN} {caps[0]} {EOC_TOKEN} {IMAGE_TOKEN}{IMAGE_TOKEN} {caps[1]} {EOC_TOKEN} no image here"
    samples += [
        Sample(id="multi", text=two_chunks, images=[paths[0], paths[1], paths[2]]),
        Sample(id="noimg", text="just text"),
        Sample(id="bad", text="a red circle", images=[bad]),
    ]
    op = ImageTextSimilarityFilter({"hf_clip": "proxy", "proxy_epochs": 2})
    op.setup(OpContext(samples=samples, cache_dir=str(tmp_path), dataset_fingerprint="x"))
    st = op.compute_stats(samples)["image_text_similarity"]
    counts = np.diff(st.offsets)
    assert counts[:40].tolist() == [1] * 40 and counts[40:].tolist() == [2, 0, 1]  # one value per chunk
    assert np.isfinite(st.values[:-1]).all() and np.isnan(st.values[-1])
    keep = ImageTextSimilarityFilter({"min_score": -1.0, "max_score": 1.0}).keep({"image_text_similarity": st})
    assert keep[40:].tolist() == [True, True, False]  # no image kept, unreadable image removed
    # min/max reduce modes bracket the average over the 2-image chunk
    vals = {}
    for mode in ("min", "avg", "max"):
        o = ImageTextSimilarityFilter({"hf_clip": "proxy", "proxy_epochs": 2, "reduce_mode": mode})
        o.setup(OpContext(samples=samples, cache_dir=str(tmp_path), dataset_fingerprint="x"))
        vals[mode] = o.compute_stats(samples[40:41])["image_text_similarity"].values[1]
    assert vals["min"] <= vals["avg"] + 1e-9 <= vals["max"] + 2e-9


def test_closed_bounds_and_any_all():
    st = {"image_text_similarity": Stat(np.array([0.1, 1.0, 0.05, 0.3, 0.05]), np.array([0, 1, 2, 3, 5, 5]))}
    assert ImageTextSimilarityFilter().keep(st).tolist() == [True, True, False, True, True]
    assert ImageTextSimilarityFilter({"any_or_all": "all"}).keep(st).tolist() == [True, True, False, False, True]


def _tiny_clip(path):
    """A randomly initialised CLIP small enough for CPU, saved as a local checkpoint directory."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<bos>", "<eos>", "a", *COLORS, *SHAPES]
    vocab = {w: i for i, w in enumerate(words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", vocab["<bos>"]), ("<eos>", vocab["<eos>"])]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
    text_cfg = dict(
        vocab_size=len(words),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=16,
        eos_token_id=vocab["<eos>"],
        bos_token_id=vocab["<bos>"],
        pad_token_id=vocab["<pad>"],
    )
    vision_cfg = dict(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
    )
    cfg = CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return str(path)


@pytest.mark.slow
def test_local_clip_checkpoint(tmp_path):
    import torch
    from transformers import AutoTokenizer, CLIPModel

    ckpt = _tiny_clip(tmp_path / "clip")
    paths, caps, _ = make_shapes(tmp_path, 6, seed=3, shuffle=0.0)
    (tmp_path / "bad.png").write_bytes(b"junk")
    two_chunks = f"{IMAGE_TOKEN} {caps[0]} {EOC_TOKEN} {IMAGE_TOKEN}{IMAGE_TOKEN} {caps[1]} {EOC_TOKEN}"
    samples = [Sample(id=str(i), text=c, images=[p]) for i, (p, c) in enumerate(zip(paths, caps, strict=True))]
    samples += [
        Sample(id="multi", text=two_chunks, images=paths[:3]),
        Sample(id="noimg", text="a red circle"),
        Sample(id="bad", text="a red circle", images=[str(tmp_path / "bad.png")]),
    ]
    op = ImageTextSimilarityFilter({"hf_clip": ckpt, "batch_size": 4})
    assert op.uses_local_clip()
    op.setup(OpContext(samples=samples, cache_dir=str(tmp_path), dataset_fingerprint="x"))
    st = op.compute_stats(samples)["image_text_similarity"]
    assert np.diff(st.offsets).tolist() == [1] * 6 + [2, 0, 1]
    assert np.isfinite(st.values[:-1]).all() and np.isnan(st.values[-1])
    assert (np.abs(st.values[:-1]) <= 1.0 + 1e-5).all()
    # equals CLIP's own logits_per_image / logit_scale for a plain pair (Data-Juicer: logits / 100)
    model = CLIPModel.from_pretrained(ckpt).eval()
    tok = AutoTokenizer.from_pretrained(ckpt)
    from transformers import AutoImageProcessor

    improc = AutoImageProcessor.from_pretrained(ckpt)
    with torch.no_grad():
        out = model(
            **tok([caps[0]], return_tensors="pt", padding=True),
            pixel_values=improc(images=[Image.open(paths[0]).convert("RGB")], return_tensors="pt")["pixel_values"],
        )
        ref = float(out.logits_per_image[0, 0] / model.logit_scale.exp())
    assert st.values[0] == pytest.approx(ref, abs=1e-4)
    # batching across samples and chunks gives the same values as one sample at a time
    one = [op.compute_stats([s])["image_text_similarity"].values for s in samples[:7]]
    np.testing.assert_allclose(np.concatenate(one), st.values[:8], atol=1e-5)
    # flips change the stat (and the cache key)
    flipped = ImageTextSimilarityFilter({"hf_clip": ckpt, "horizontal_flip": True})
    assert flipped.stat_config() != op.stat_config()
    assert np.isfinite(flipped.compute_stats(samples[:1])["image_text_similarity"].values).all()
