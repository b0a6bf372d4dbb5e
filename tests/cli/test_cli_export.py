"""`recipelab export`: a finished run's final recipe as a Data-Juicer config, nothing left out silently."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from recipelab.recipes import Recipe
from tests.cli._cli import invoke
from tests.conftest import make_synthetic_loop

DJ_TOP_LEVEL = {"project_name", "dataset_path", "export_path", "np", "process"}


def test_export_writes_a_dj_config_and_names_what_it_left_out(tmp_path: Path, tiny_bench: Path, synthetic_env) -> None:  # noqa: ANN001
    loop = make_synthetic_loop(tmp_path, tiny_bench, synthetic_env, budget_probes=12, test_seeds=0)
    out = loop.run()
    summary = out.summary
    # the end game writes both: the Data-Juicer config and the whole recipe
    full = Recipe.load(summary["best_recipe_full"])
    dj = yaml.safe_load(Path(summary["best_recipe"]).read_text())
    assert set(dj) <= DJ_TOP_LEVEL
    left = {lo["op"] for lo in summary["export"]["left_out"]}
    assert [o.name for o in full.process if o.name not in left] == [next(iter(p)) for p in dj["process"]]

    target = tmp_path / "exp" / "recipe.yaml"
    r = invoke("export", "latest", "--out", str(target), "--np", "2", "--json", ws=tmp_path / "ws")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    cfg = yaml.safe_load(target.read_text())
    assert set(cfg) <= DJ_TOP_LEVEL and cfg["np"] == 2
    assert Path(cfg["dataset_path"]).is_absolute() and Path(cfg["dataset_path"]).name == "pool.jsonl"
    assert doc["dj_ops"] == [next(iter(p)) for p in cfg["process"]]
    assert {lo["op"] for lo in doc["left_out"]} == left
    if left:
        side = json.loads(Path(doc["side_file"]).read_text())
        assert side and "recipelab" not in cfg


def test_export_of_a_run_without_a_final_recipe_is_one_line(tmp_path: Path) -> None:
    from recipelab.memory import Memory

    mem = Memory(tmp_path / "ws" / "memory.sqlite")
    rid = mem.create_run({"data": "p.jsonl", "eval": "e.jsonl"}, {"probes": 4})
    r = invoke("export", rid, ws=tmp_path / "ws")
    assert r.exit_code == 2 and "no final recipe yet" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = invoke("export", rid, "--format", "xml", ws=tmp_path / "ws")
    assert r.exit_code == 2 and "unknown format" in r.stderr
