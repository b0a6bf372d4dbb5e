"""The `caption` probe: real (tiny) VisionEncoderDecoder training on the glyph set of conftest.py, the
probe protocol it shares with `clip`, its own defaults, errors, a local checkpoint, and one end-to-end
`recipelab search --task caption` on a tiny benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipelab.data.benchmark import make_benchmark
from recipelab.data.sample import Sample
from recipelab.trainers import ImageBank, ProbeError, ProbeSpec, Trainer
from recipelab.trainers.caption import CAPTION_PROBE, CaptionTrainer, build_config, resolve_spec
from recipelab.trainers.registry import make_trainer, model_fingerprint_config, task_names

TINY = {
    "encoder": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
    "decoder": {"n_embd": 32, "n_inner": 64, "n_layer": 1},
}


def spec(**kw) -> ProbeSpec:
    base = dict(
        task="caption", steps=8, batch_size=32, seed=0, image_size=32, max_text_len=8, model=TINY, min_train_size=16
    )
    return ProbeSpec(**(base | kw))


@pytest.fixture(scope="module")
def trainer(glyphs, tokenizer):
    _, train, evals = glyphs
    return CaptionTrainer(tokenizer, ImageBank.from_samples(train + evals, 32), device="cpu", threads=1)


def test_registry_lists_caption_and_its_defaults_are_in_the_cache_key() -> None:
    assert "caption" in task_names() and make_trainer("caption") is CaptionTrainer
    key = model_fingerprint_config("caption")
    assert key["probe"] == CAPTION_PROBE and key["decoder"]["n_layer"] >= 1


def test_unset_fields_take_the_caption_defaults_explicit_ones_win() -> None:
    s = resolve_spec(ProbeSpec(task="caption"))
    assert (s.steps, s.batch_size, s.primary_metric) == (
        CAPTION_PROBE["steps"],
        CAPTION_PROBE["batch_size"],
        "cider",
    )
    s = resolve_spec(ProbeSpec(task="caption", steps=7, primary_metric="bleu4"))
    assert s.steps == 7 and s.primary_metric == "bleu4" and resolve_spec(s) == s


def test_probe_learns_and_reports(trainer, glyphs) -> None:
    """A few dozen steps on a clean pool caption held-out images far better than the initial weights."""
    _, train, evals = glyphs
    assert isinstance(trainer, Trainer)
    untrained = trainer.run(spec(steps=1, lr=1e-12), train, evals)  # one step at lr 1e-12: the init
    res = trainer.run(spec(steps=40, lr=3e-3), train, evals)
    m = res.metrics
    assert res.primary_metric == "cider" and res.primary == m["cider"]
    assert m["cider"] > untrained.metrics["cider"] + 0.5  # (3-word captions have no 4-grams: BLEU-4 is 0)
    assert {"attr_shape", "attr_colour", "attr_acc", "attr_ref_acc", "mean_len", "distinct"} <= set(m)
    assert m["attr_colour"] > untrained.metrics["attr_colour"] and m["attr_ref_acc"] == 1.0
    assert res.train_size == 200 and res.eval_size == 60 and res.steps == 40 and res.batch_size == 32
    assert res.device == "cpu" and res.samples_per_s > 0 and res.wall_time_s >= res.train_time_s
    capt = trainer.captions(trainer.fit(spec(steps=1), train), evals[:3])
    assert [i for i, _ in capt] == [s.id for s in evals[:3]] and all(isinstance(c, str) for _, c in capt)


def test_deterministic_same_seed_and_train_ids(trainer, glyphs) -> None:
    _, train, evals = glyphs
    a = trainer.run(spec(seed=3, steps=4), train, evals).metrics
    assert a == trainer.run(spec(seed=3, steps=4), train, evals).metrics
    res = trainer.run(spec(train_ids=[s.id for s in train[:40]], train_size=100, steps=2), train, evals)
    assert res.undersized and res.train_size == 40 and res.requested_train_size == 100


def test_errors_are_one_clear_line(trainer, glyphs, tmp_path: Path) -> None:
    _, train, evals = glyphs
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    bad = [Sample(id=f"b{i}", text="a red square", images=[str(broken)]) for i in range(20)]
    cases = [
        (bad, evals, spec(), "recipe keeps 0 samples with a readable image (20 skipped)"),
        ([], evals, spec(), "recipe keeps 0 samples"),
        (train[:10], evals, spec(), "kept pool 10 < min_train_size 16"),
        (train, bad, spec(steps=1), "eval split has 0 usable pairs (need >= 2; 20 skipped)"),
        (train, evals, spec(task="clip"), "CaptionTrainer runs task 'caption', not 'clip'"),
        (train, evals, spec(model={"vision": {}}), "take 'encoder' and 'decoder' dicts"),
        (train, evals, spec(checkpoint=str(tmp_path / "none")), "is not a local folder"),
        (train, evals, spec(primary_metric="mean_recall", steps=1), "primary metric 'mean_recall' not among"),
    ]
    for tr, ev, sp, msg in cases:
        with pytest.raises(ProbeError) as err:
            trainer.run(sp, tr, ev)
        assert msg in str(err.value) and "\n" not in str(err.value)
    mixed = train[:50] + bad[:3]  # corrupt rows among good ones are skipped and counted
    res = trainer.run(spec(steps=2), mixed, evals)
    assert res.skipped_images == 3 and res.train_size == 50


def test_local_checkpoint_is_fine_tuned(trainer, tokenizer, glyphs, tmp_path: Path) -> None:
    from transformers import VisionEncoderDecoderModel

    _, train, evals = glyphs
    model = VisionEncoderDecoderModel(build_config(spec(), tokenizer.with_max_len(8)))
    model.save_pretrained(tmp_path / "ckpt")
    tokenizer.to_hf().save_pretrained(tmp_path / "ckpt")
    res = trainer.run(spec(checkpoint=str(tmp_path / "ckpt"), steps=20, lr=3e-3), train, evals)
    assert res.primary > 0 and res.train_size == 200


@pytest.mark.slow  # ~10-20 s: op stats, the search loop and a dozen tiny probes
def test_search_runs_end_to_end(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recipelab.cli import app

    bench = tmp_path / "bench"
    make_benchmark(bench, size=300, n_eval=40, n_test=40, seed=5)
    cfg = tmp_path / "run.yaml"
    probe = {"steps": 3, "batch_size": 16, "train_size": 64, "min_train_size": 16, "model": TINY}
    cfg.write_text(json.dumps({"probe": probe}))  # JSON is YAML
    args = ["search", "--data", str(bench / "pool.jsonl"), "--eval", str(bench / "eval.jsonl")]
    args += ["--test", str(bench / "test.jsonl"), "--task", "caption", "--budget-probes", "4", "--planner", "stat"]
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
    assert done and all(e["result"]["primary_metric"] == "cider" and "bleu4" in e["metrics"] for e in done), done[:1]
