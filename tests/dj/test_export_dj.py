"""Round trip through the real Data-Juicer: ``export_recipe`` writes a config, ``dj-process`` (from the
Data-Juicer venv) runs it unchanged on a generated pool, and the ids it keeps are the ids recipelab keeps.

Pools: the built-in benchmark (captions with Data-Juicer's special tokens, relative image paths, near and
exact duplicates) and the adversarial pool of tests/dj/adversarial.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recipelab.apply import apply_recipe_to_dataset
from recipelab.data.benchmark import make_benchmark
from recipelab.data.reader import Dataset, read_dataset
from recipelab.export import ExportResult, export_recipe
from recipelab.operators.registry import create_op
from recipelab.operators.stats import StatsCache, compute_pipeline_stats
from recipelab.recipes import Recipe
from tests.dj.adversarial import make_pool
from tests.dj.djrun import dj_env


def _q(ds: Dataset, op: str, key: str, q: float, **params: object) -> float:
    """The ``q`` quantile of an op's stat on the pool (what the search's thresholds are)."""
    ops = [create_op(op, dict(params))]
    (st,) = compute_pipeline_stats(ops, ds.samples, ds.fingerprint, StatsCache(None), quiet=True)
    return float(np.quantile(st[key].finite_values(), q))


def _dj_process(dj_py: Path, config: Path, tmp: Path) -> list[str]:
    """Run ``dj-process --config`` from the Data-Juicer venv; the ids it exported, in order."""
    proc = subprocess.run(
        [str(dj_py.parent / "dj-process"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=600,
        env=dj_env(tmp),
        cwd=tmp,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"dj-process failed:\n{log[-4000:]}"
    # Data-Juicer skips a batch whose op raised (skip_op_error): that must not pass unnoticed
    assert "An error occurred" not in log, log[-4000:]
    out = yaml_export_path(config)
    return [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def yaml_export_path(config: Path) -> Path:
    import yaml

    return Path(yaml.safe_load(config.read_text(encoding="utf-8"))["export_path"])


def _export(recipe: Recipe, ds: Dataset, pool: Path, tmp: Path, name: str) -> tuple[ExportResult, Path]:
    cfg = tmp / name / "recipe.yaml"
    res = export_recipe(
        recipe,
        cfg,
        dataset=ds,
        dataset_path=pool,
        export_path=tmp / name / "out" / "kept.jsonl",
        np_workers=1,
        provenance={"run": "test", "eval_mean": 0.5},
    )
    return res, cfg


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    d = tmp_path_factory.mktemp("bench")
    make_benchmark(d, size=600, n_eval=10, n_test=10, seed=3)
    return d / "pool.jsonl", read_dataset(d / "pool.jsonl", quiet=True)


def test_issue_recipe_keeps_the_same_ids_as_recipelab_apply(
    dj_py: Path, bench: tuple[Path, Dataset], tmp_path: Path
) -> None:
    """The 4-op recipe of issue 13 (thresholds at pool quantiles, sizes as numbers of bytes as the search
    writes them): dj-process keeps exactly what ``recipelab apply`` keeps."""
    pool, ds = bench
    recipe = Recipe.from_dj(
        {
            "project_name": "recipelab-test",
            "process": [
                {
                    "character_repetition_filter": {
                        "rep_len": 3,
                        "max_ratio": _q(ds, "character_repetition_filter", "char_rep_ratio", 0.9, rep_len=3),
                    }
                },
                {"image_size_filter": {"min_size": _q(ds, "image_size_filter", "image_sizes", 0.1) + 0.5}},
                {"image_shape_filter": {"min_width": 40, "min_height": 40}},
                {"image_aspect_ratio_filter": {"min_ratio": 0.5, "max_ratio": 2.0}},
                {"text_length_filter": {"min_len": int(_q(ds, "text_length_filter", "text_len", 0.05))}},
            ],
        }
    )
    res, cfg = _export(recipe, ds, pool, tmp_path, "issue")
    assert res.complete and res.side_path is not None
    text = cfg.read_text(encoding="utf-8")
    assert "# recipelab:" in text and "\nrecipelab:" not in text  # provenance only as a comment
    ours = [s.id for s in apply_recipe_to_dataset(recipe, ds, StatsCache(None), quiet=True).kept_samples]
    assert res.dj_kept_ids == ours == res.recipe_kept_ids
    assert 0 < len(ours) < len(ds)
    assert _dj_process(dj_py, cfg, tmp_path) == ours


def test_broad_recipe_with_left_out_ops(dj_py: Path, bench: tuple[Path, Dataset], tmp_path: Path) -> None:
    """Mappers, text filters on raw text, word lists, image filters, deduplicators, and recipelab-only ops
    that the export leaves out (visibly): dj-process keeps what the Data-Juicer part keeps here, and the
    left-out ops' kept ids (side file) narrow it to exactly the whole recipe's result."""
    pool, ds = bench
    recipe = Recipe.from_dj(
        {
            "process": [
                {"whitespace_normalization_mapper": {}},
                {"punctuation_normalization_mapper": {}},
                {"words_num_filter": {"min_num": 4, "max_num": 40}},
                {"special_characters_filter": {"max_ratio": _q(ds, "special_characters_filter", "special_char_ratio", 0.9)}},  # noqa: E501
                {"alphanumeric_filter": {"min_ratio": 0.5, "reversed_range": False, "min_closed_interval": False}},
                {"stopwords_filter": {"min_ratio": 0.05}},
                {"word_repetition_filter": {"rep_len": 2, "max_ratio": 0.4}},
                {"image_aspect_ratio_filter": {"min_ratio": 0.4, "max_ratio": 2.5, "any_or_all": "all"}},
                {"document_deduplicator": {"lowercase": True}},
                {"image_deduplicator": {}},
                # after the deduplicators, so that the left-out ops' kept ids narrow dj-process's output to
                # exactly the recipe's result (before them, see the export's note)
                {"image_entropy_filter": {"min_entropy": 1.0}},
                {"text_entropy_filter": {"min_entropy": 2.5}},
            ],
        }
    )
    res, cfg = _export(recipe, ds, pool, tmp_path, "broad")
    assert [lo.name for lo in res.left_out] == ["image_entropy_filter", "text_entropy_filter"]
    assert res.assets_dir is not None and (res.assets_dir / "stopwords.json").exists()
    side = json.loads(res.side_path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert all("kept_ids" in lo and "quantile" in lo["thresholds"][0] for lo in side["left_out"])
    got = _dj_process(dj_py, cfg, tmp_path)
    assert got == res.dj_kept_ids
    assert not res.notes
    narrowed = [i for i in got if all(i in set(lo.kept_ids or []) for lo in res.left_out)]
    assert narrowed == res.recipe_kept_ids
    assert len(narrowed) < len(got) < len(ds)


def test_adversarial_pool_round_trip(dj_py: Path, tmp_path: Path) -> None:
    """Special tokens, empty texts, several images per sample, exact size boundaries, through dj-process."""
    pool = make_pool(tmp_path / "pool")
    ds = read_dataset(pool.jsonl, quiet=True)
    recipe = Recipe.from_dj(
        {
            "process": [
                {"text_length_filter": {"min_len": 0, "max_len": 60}},
                {"character_repetition_filter": {"rep_len": 3, "max_ratio": 0.6, "reversed_range": False}},
                {"image_size_filter": {"min_size": "1KB", "max_size": 15360.0, "any_or_all": "any"}},
                {"image_shape_filter": {"min_width": 2, "max_height": 100, "any_or_all": "all"}},
                {"maximum_line_length_filter": {"min_len": 0, "max_len": 50, "max_closed_interval": False}},
                {"document_simhash_deduplicator": {}},
            ]
        }
    )
    res, cfg = _export(recipe, ds, pool.jsonl, tmp_path, "adv")
    assert res.complete
    assert "min_size: 1KB" in cfg.read_text(encoding="utf-8") and "max_size: '15360'" in cfg.read_text()
    assert _dj_process(dj_py, cfg, tmp_path) == res.recipe_kept_ids
