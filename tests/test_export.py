"""export_recipe without Data-Juicer installed: what the config holds, what is left out and said so."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from recipelab.data import read_dataset
from recipelab.export import export_recipe, side_file_path
from recipelab.operators.stats import StatsCache
from recipelab.recipes import Recipe


def _recipe(extra_ops: list[dict] | None = None) -> Recipe:
    r = Recipe.from_dj(
        {
            "project_name": "p",
            "process": [
                {"text_length_filter": {"min_len": 5, "strip_special_tokens": False}},
                {"image_size_filter": {"min_size": 100.5, "max_size": 5000.9}},
                {"image_sharpness_filter": {"min_sharpness": 3.0}},
                {"words_num_filter": {"min_num": 1, "strip_special_tokens": True}},
                {"stopwords_filter": {"min_ratio": 0.0}},
                *(extra_ops or []),
            ],
        }
    )
    r.extra["recipelab"] = {"run": "r1", "eval_mean": 0.5}
    return r


def test_config_has_only_data_juicer_keys_and_ops(tmp_path: Path) -> None:
    res = export_recipe(_recipe(), tmp_path / "r.yaml", dataset_path="pool.jsonl", export_path="o.jsonl", np_workers=2)
    text = (tmp_path / "r.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    assert list(cfg) == ["project_name", "dataset_path", "export_path", "np", "process"]
    assert [next(iter(op)) for op in cfg["process"]] == ["text_length_filter", "image_size_filter", "stopwords_filter"]
    assert cfg["process"][0]["text_length_filter"] == {"min_len": 5}  # extension param at default: not written
    assert cfg["process"][1]["image_size_filter"] == {"min_size": "101", "max_size": "5000"}  # exact strings
    assert Path(cfg["process"][2]["stopwords_filter"]["stopwords_dir"], "stopwords.json").exists()
    assert '# recipelab: {"run": "r1"' in text  # provenance as a comment only
    # left out, visibly: in the comment, the return value and the side file
    assert [lo.name for lo in res.left_out] == ["image_sharpness_filter", "words_num_filter"]
    assert "recipelab-only" in res.left_out[0].reason and "strip_special_tokens" in res.left_out[1].reason
    assert "image_sharpness_filter" in text and "words_num_filter: uses recipelab extension" in text
    assert res.side_path == side_file_path(tmp_path / "r.yaml")
    side = json.loads(res.side_path.read_text(encoding="utf-8"))
    assert [lo["op"] for lo in side["left_out"]] == ["image_sharpness_filter", "words_num_filter"]
    assert "kept ids" in side["note"]  # no dataset given
    assert "left out" in res.summary()


def test_without_dataset_path_the_comment_says_what_to_set(tmp_path: Path) -> None:
    export_recipe(Recipe.from_yaml("process:\n  - text_length_filter:\n"), tmp_path / "r.yaml")
    text = (tmp_path / "r.yaml").read_text(encoding="utf-8")
    assert "Set dataset_path, export_path and np" in text
    assert "dataset_path" not in yaml.safe_load(text)


def test_with_dataset_kept_ids_and_quantiles(tiny_dataset: Path, tmp_path: Path) -> None:
    ds = read_dataset(tiny_dataset, quiet=True)
    recipe = Recipe.from_yaml(
        "process:\n  - text_length_filter: {min_len: 5}\n  - text_entropy_filter: {min_entropy: 2.5}\n"
        "  - document_deduplicator: {}\n"
    )
    res = export_recipe(recipe, tmp_path / "r.yaml", dataset=ds, cache=StatsCache(tmp_path / "c"))
    (lo,) = res.left_out
    assert lo.name == "text_entropy_filter" and lo.kept_ids is not None
    assert 0.0 <= lo.thresholds[0]["quantile"] <= 1.0
    assert res.recipe_kept_ids is not None and res.dj_kept_ids is not None
    assert set(res.recipe_kept_ids) <= set(res.dj_kept_ids)
    assert res.notes and "deduplicator runs after a left-out op" in res.notes[0]
    side = json.loads(res.side_path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert side["recipe_kept_ids"] == res.recipe_kept_ids and side["left_out"][0]["kept_ids"] == lo.kept_ids


def test_proxy_clip_similarity_is_left_out_with_its_reason(tmp_path: Path) -> None:
    r = Recipe.from_yaml("process:\n  - image_text_similarity_filter: {min_score: 0.2}\n")
    res = export_recipe(r, tmp_path / "r.yaml")
    assert [lo.name for lo in res.left_out] == ["image_text_similarity_filter"]
    assert "proxy CLIP" in res.left_out[0].reason
    assert "with a real CLIP" in (tmp_path / "r.yaml").read_text(encoding="utf-8")
