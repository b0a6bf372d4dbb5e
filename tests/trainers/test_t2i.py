"""The `t2i` probe: real (tiny) diffusers UNet + text encoder training on the glyph set of conftest.py, scored
by a reference CLIP trained on the clean split; its defaults, errors, the reference cache, the Frechet
distance, and one end-to-end `recipelab search --task t2i` on a tiny benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recipelab.data.benchmark import make_benchmark
from recipelab.trainers import ImageBank, ProbeError, ProbeSpec, Trainer
from recipelab.trainers.registry import make_trainer, model_fingerprint_config, task_names
from recipelab.trainers.t2i import T2I_PROBE, T2ITrainer, frechet_distance, resolve_spec

TINY = {
    "unet": {
        "block_out_channels": [8, 16],
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
        "norm_num_groups": 4,
        "attention_head_dim": 4,
        "addition_embed_type_num_heads": 2,
    },
    "text": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1},
    "diffusion": {"sample_steps": 3, "eval_prompts": 24},
    "reference": {"steps": 40, "batch_size": 32},
}


def spec(**kw) -> ProbeSpec:
    base = dict(task="t2i", steps=6, batch_size=16, seed=0, image_size=16, max_text_len=8, model=TINY)
    return ProbeSpec(**(base | {"min_train_size": 16} | kw))


@pytest.fixture(scope="module")
def trainer(glyphs, tokenizer):
    _, train, evals = glyphs
    return T2ITrainer(tokenizer, ImageBank.from_samples(train + evals, 16), device="cpu", threads=1)


def test_registry_lists_t2i_and_its_defaults_are_in_the_cache_key() -> None:
    assert "t2i" in task_names() and make_trainer("t2i") is T2ITrainer
    key = model_fingerprint_config("t2i")
    assert key["probe"] == T2I_PROBE and "unet" in key and "reference" in key
    s = resolve_spec(ProbeSpec(task="t2i"))
    assert (s.steps, s.primary_metric) == (T2I_PROBE["steps"], T2I_PROBE["primary_metric"])
    s = resolve_spec(ProbeSpec(task="t2i", steps=7, primary_metric="clip_score"))
    assert s.steps == 7 and s.primary_metric == "clip_score" and resolve_spec(s) == s


def test_frechet_distance_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.5])
    assert frechet_distance(a, a + shift) == pytest.approx(float((shift**2).sum()), rel=1e-6)
    # independent axes with variances 1 and 4: (sqrt(1) - sqrt(4))^2 = 1 per axis
    b = rng.normal(size=(4000, 3)) * 2.0
    assert frechet_distance(a, b) == pytest.approx(3.0, rel=0.1)
    with pytest.raises(ValueError):
        frechet_distance(a[:1], b)


def test_probe_trains_generates_and_reports(trainer, glyphs) -> None:
    """A few dozen steps move the generated images towards the real ones (lower Frechet distance in the
    reference's feature space) and every metric is reported; the reference itself retrieves real images."""
    _, train, evals = glyphs
    assert isinstance(trainer, Trainer)
    untrained = trainer.run(spec(steps=1, lr=1e-12), train, evals)
    res = trainer.run(spec(steps=60, lr=5e-3), train, evals)
    m = res.metrics
    assert res.primary_metric == T2I_PROBE["primary_metric"] and res.primary == m[res.primary_metric]
    assert {"ref_recall", "clip_score", "fd", "ref_real_recall", "zeroshot_colour", "zeroshot"} <= set(m)
    assert m["fd"] < untrained.metrics["fd"], (m["fd"], untrained.metrics["fd"])
    assert m["ref_real_recall"] > 2 / 12  # the reference sees real images far above chance (12 distinct prompts)
    assert res.train_size == 200 and res.eval_size == 24 and res.steps == 60 and res.device == "cpu"
    gen = trainer.fit(spec(steps=2), train).generate(["a red square", "a blue circle"], seed=0)
    assert gen.shape == (2, 3, 16, 16) and gen.dtype == np.uint8


def test_deterministic_and_paired(trainer, glyphs) -> None:
    _, train, evals = glyphs
    a = trainer.run(spec(seed=3, steps=3), train, evals).metrics
    assert a == trainer.run(spec(seed=3, steps=3), train, evals).metrics
    res = trainer.run(spec(train_ids=[s.id for s in train[:40]], train_size=100, steps=2), train, evals)
    assert res.undersized and res.train_size == 40 and res.requested_train_size == 100


def test_reference_is_cached_on_disk_and_reused(glyphs, tokenizer, tmp_path: Path) -> None:
    _, train, evals = glyphs
    first = T2ITrainer(tokenizer, ImageBank.from_samples(train + evals, 16), device="cpu", threads=1)
    first.cache_dir = tmp_path
    a = first.run(spec(steps=2), train, evals).metrics
    files = list(tmp_path.glob("t2i-reference-*.pt"))
    assert len(files) == 1
    second = T2ITrainer(tokenizer, ImageBank.from_samples(train + evals, 16), device="cpu", threads=1)
    second.cache_dir = tmp_path
    mtime = files[0].stat().st_mtime_ns
    assert second.run(spec(steps=2), train, evals).metrics == a
    assert files[0].stat().st_mtime_ns == mtime  # loaded, not trained again


def test_errors_are_one_clear_line(trainer, glyphs, tmp_path: Path) -> None:
    _, train, evals = glyphs
    cases = [
        (spec(task="clip"), "T2ITrainer runs task 't2i', not 'clip'"),
        (spec(model={"vision": {}}), "take 'unet', 'text', 'diffusion' and 'reference' dicts"),
        (spec(model={**TINY, "diffusion": {"guidence": 2}}), "unknown diffusion setting(s) ['guidence']"),
        (spec(model={**TINY, "unet": {"block_out_channels": [8, 16], "down_block_types": ["Nope"]}}), "invalid unet"),
        (spec(stop_step=2), "built for 'clip' only"),
        (spec(checkpoint=str(tmp_path)), "checkpoints are not supported"),
        (spec(primary_metric="mean_recall", steps=1), "primary metric 'mean_recall' not among"),
        (spec(model={**TINY, "reference": {"checkpoint": str(tmp_path / "none")}}, steps=1), "is not a local folder"),
    ]
    for sp, msg in cases:
        with pytest.raises(ProbeError) as err:
            trainer.run(sp, train, evals)
        assert msg in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.slow  # ~20-40 s: op stats, the search loop and a few tiny probes
def test_search_runs_end_to_end(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recipelab.cli import app

    bench = tmp_path / "bench"
    make_benchmark(bench, size=300, n_eval=40, n_test=40, seed=5)
    cfg = tmp_path / "run.yaml"
    probe = {"steps": 3, "batch_size": 16, "train_size": 64, "min_train_size": 16, "model": TINY}
    cfg.write_text(json.dumps({"probe": probe}))  # JSON is YAML
    args = ["search", "--data", str(bench / "pool.jsonl"), "--eval", str(bench / "eval.jsonl")]
    args += ["--test", str(bench / "test.jsonl"), "--task", "t2i", "--budget-probes", "4", "--planner", "stat"]
    args += ["--ops", "text_length_filter,words_num_filter,document_deduplicator", "--test-seeds", "1"]
    args += ["--config", str(cfg), "--workspace", str(tmp_path / "ws"), "--json"]
    r = CliRunner().invoke(app, args, catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done" and doc["probes"] == 4 and doc["test"]["final"]["seeds"] == 1
    exps = CliRunner().invoke(
        app, ["experiments", "--run", doc["run_id"], "--json", "--workspace", str(tmp_path / "ws")]
    )
    done = [e for e in json.loads(exps.stdout) if e["status"] == "done"]
    assert done and all(e["result"]["primary_metric"] == "clip_score" and "fd" in e["metrics"] for e in done)
    assert list((tmp_path / "ws").rglob("t2i-reference-*.pt")), "the reference CLIP is cached in the workspace"
