import numpy as np
import pytest

from recipelab.data.sample import Sample
from recipelab.trainers import ClipTrainer, ImageBank, ProbeError, ProbeSpec, ProbeTokenizer, Trainer

TINY = {
    "projection_dim": 32,
    "vision": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
    "text": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
}


def spec(**kw) -> ProbeSpec:
    base = dict(steps=8, batch_size=32, seed=0, image_size=32, max_text_len=8, model=TINY, min_train_size=16)
    return ProbeSpec(**(base | kw))


@pytest.fixture(scope="module")
def trainer(glyphs, tokenizer):
    _, train, evals = glyphs
    bank = ImageBank.from_samples(train + evals, 32)
    return ClipTrainer(tokenizer, bank, device="cpu", threads=2)


@pytest.mark.slow  # first probe of the session pays the transformers import
def test_protocol_and_result_fields(trainer, glyphs):
    _, train, evals = glyphs
    assert isinstance(trainer, Trainer)
    res = trainer.run(spec(train_size=100), train, evals)
    m = res.metrics
    for k in ("i2t_r@1", "i2t_r@5", "t2i_r@1", "t2i_r@5", "recall@1", "recall@5", "mean_recall"):
        assert 0.0 <= m[k] <= 1.0
    assert {"zeroshot_shape", "zeroshot_colour", "zeroshot"} <= set(m)
    assert res.primary == m["mean_recall"] and res.primary_metric == "mean_recall"
    assert res.train_size == 100 and res.requested_train_size == 100 and not res.undersized
    assert res.eval_size == 60 and res.skipped_images == 0 and res.device == "cpu"
    assert res.samples_per_s > 0 and res.wall_time_s >= res.train_time_s
    assert set(res.versions) >= {"torch", "transformers", "python"}


def test_deterministic_same_seed(trainer, glyphs):
    _, train, evals = glyphs
    a = trainer.run(spec(seed=3), train, evals).metrics
    b = trainer.run(spec(seed=3), train, evals).metrics
    assert a == b


def test_train_ids_and_undersized(trainer, glyphs):
    _, train, evals = glyphs
    ids = [s.id for s in train[:40]]
    res = trainer.run(spec(train_ids=ids, train_size=100), train, evals)
    assert res.undersized and res.train_size == 40 and res.requested_train_size == 100


def test_probe_errors(trainer, glyphs, tmp_path):
    _, train, evals = glyphs
    with pytest.raises(ProbeError, match="keeps 0 samples"):
        trainer.run(spec(), [], evals)
    with pytest.raises(ProbeError, match="kept pool 10 < min_train_size 16"):
        trainer.run(spec(), train[:10], evals)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    bad = [Sample(id=f"b{i}", text="a red square", images=[str(broken)]) for i in range(20)]
    with pytest.raises(ProbeError, match="readable image"):
        trainer.run(spec(), bad, evals)
    with pytest.raises(ProbeError, match="task"):
        trainer.run(spec(task="t2i"), train, evals)


def test_corrupt_images_are_skipped_and_counted(tokenizer, glyphs, tmp_path):
    _, train, evals = glyphs
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    extra = [Sample(id=f"b{i}", text="a red square", images=[str(broken)]) for i in range(3)]
    res = ClipTrainer(tokenizer, threads=2).run(spec(steps=2), train[:50] + extra, evals[:20])
    assert res.skipped_images == 3 and res.train_size == 50 and res.undersized


def test_zero_shot_templates(tokenizer, glyphs):
    _, train, evals = glyphs
    tr = ClipTrainer(tokenizer, threads=2, zero_shot_prompts=["a {value}", "{value}"])
    m = tr.run(spec(steps=2), train, evals).metrics
    assert 0.0 <= m["zeroshot_shape"] <= 1.0


@pytest.mark.slow
def test_clean_beats_shuffled_captions(trainer, glyphs):
    _, train, evals = glyphs
    rng = np.random.default_rng(0)
    texts = [s.text for s in train]
    perm = rng.permutation(len(texts))
    shuffled = [Sample(id=s.id, text=texts[j], images=s.images) for s, j in zip(train, perm, strict=True)]
    kw = dict(steps=25, lr=3e-3)
    clean = trainer.run(spec(**kw), train, evals).metrics
    noisy = trainer.run(spec(**kw), shuffled, evals).metrics
    assert clean["mean_recall"] > noisy["mean_recall"] + 0.1, (clean, noisy)
    assert clean["zeroshot_colour"] > noisy["zeroshot_colour"]


@pytest.mark.slow
def test_checkpoint_path(tmp_path, glyphs, tokenizer):
    from transformers import CLIPModel

    from recipelab.trainers.clip import build_config

    _, train, evals = glyphs
    ckpt = tmp_path / "tiny-clip"
    s = spec(image_size=16, max_text_len=8)
    CLIPModel(build_config(s, tokenizer)).save_pretrained(ckpt)
    tokenizer.to_hf().save_pretrained(ckpt)
    # the run's own tokenizer is ignored (None here); the checkpoint's is used, at the checkpoint's 16 px
    res = ClipTrainer(None, ImageBank.from_samples(train + evals, 32), threads=2).run(
        spec(checkpoint=str(ckpt), steps=3), train, evals
    )
    assert 0.0 <= res.metrics["mean_recall"] <= 1.0 and res.train_size == 200
    with pytest.raises(ProbeError, match="not a local folder"):
        ClipTrainer(tokenizer, threads=2).run(spec(checkpoint=str(tmp_path / "nope")), train, evals)


def test_fit_returns_usable_embedder(tokenizer, glyphs):
    _, train, _ = glyphs
    fitted = ClipTrainer(tokenizer, threads=2).fit(spec(steps=2), train)
    bank = ImageBank.from_samples(train[:5], 32)
    img = fitted.embed_images(bank.pixels)
    txt = fitted.embed_texts([s.text for s in train[:5]])
    assert img.shape == txt.shape == (5, 32)
    assert np.allclose(img.norm(dim=1).numpy(), 1.0, atol=1e-5)


def test_tokenizer_required(glyphs):
    _, train, evals = glyphs
    with pytest.raises(ProbeError, match="tokenizer"):
        ClipTrainer(None, threads=2).run(spec(), train, evals)


def test_tokenizer_type(tokenizer):
    assert isinstance(tokenizer, ProbeTokenizer)


def test_curve_and_resumed_segments_equal_the_whole_probe(trainer, glyphs, tmp_path):
    """A probe stopped at a rung and resumed from its checkpoint is the uninterrupted probe, bit for bit;
    its curve point at the rung is the stopped segment's score (what successive halving ranks by)."""
    _, train, evals = glyphs
    whole = trainer.run(spec(steps=12, eval_steps=[3, 6]), train, evals)
    assert [c["step"] for c in whole.curve] == [3, 6] and whole.start_step == 0 and whole.end_step == 12
    ck1, ck2 = str(tmp_path / "a.pt"), str(tmp_path / "b.pt")
    first = trainer.run(spec(steps=12, stop_step=3, save_checkpoint=ck1), train, evals)
    assert first.end_step == 3 and first.metrics == whole.curve[0]["metrics"]
    second = trainer.run(spec(steps=12, stop_step=6, resume_from=ck1, save_checkpoint=ck2), train, evals)
    assert (second.start_step, second.end_step) == (3, 6) and second.metrics == whole.curve[1]["metrics"]
    last = trainer.run(spec(steps=12, resume_from=ck2), train, evals)
    assert last.metrics == whole.metrics
    # a checkpoint of another probe (other seed) is refused with a clear error
    with pytest.raises(ProbeError, match="another probe"):
        trainer.run(spec(steps=12, seed=9, resume_from=ck2), train, evals)
    with pytest.raises(ProbeError, match="cannot read checkpoint"):
        trainer.run(spec(steps=12, resume_from=str(tmp_path / "missing.pt")), train, evals)


def test_fingerprint_config_keeps_single_fidelity_keys():
    from recipelab.trainers.base import spec_fingerprint_config

    plain = spec_fingerprint_config(spec())
    assert "eval_steps" not in plain and "stop_step" not in plain and "resume_from" not in plain
    seg = spec_fingerprint_config(spec(stop_step=4, resume_from="/x", save_checkpoint="/y"))
    assert seg["stop_step"] == 4 and "resume_from" not in seg and "save_checkpoint" not in seg
    assert "stop_step" not in spec_fingerprint_config(spec(stop_step=8))  # a stop at the end is the whole probe
