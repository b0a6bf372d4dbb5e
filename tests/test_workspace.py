"""The workspace owns every path and the Optuna storage URL."""

from __future__ import annotations

from pathlib import Path

from recipelab.workspace import ENV_OPTUNA_STORAGE, ENV_WORKSPACE, Workspace


def test_paths_live_under_the_root(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "w")
    assert ws.root.is_dir()
    paths = [ws.cache_dir, ws.rejects_dir, ws.run_dir("r"), ws.tokenizer_path("r"), ws.memory_path]
    paths += [ws.chat_history_path, ws.best_recipe_path("r"), ws.summary_path("r"), ws.bench_score_path("r")]
    for p in paths:
        assert (tmp_path / "w") in p.parents
    assert ws.tokenizer_path("r").parent == ws.run_dir("r")


def test_optuna_storage_default_env_and_argument(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv(ENV_OPTUNA_STORAGE, raising=False)
    ws = Workspace.open(tmp_path / "w")
    assert ws.optuna_storage == f"sqlite:///{(tmp_path / 'w' / 'optuna.sqlite').resolve()}"
    assert not ws.optuna_storage_exists  # reading never creates it
    monkeypatch.setenv(ENV_OPTUNA_STORAGE, "postgresql://u@localhost/db")
    assert Workspace.open(tmp_path / "w").optuna_storage == "postgresql://u@localhost/db"
    assert Workspace.open(tmp_path / "w", optuna_storage="mysql://x/y").optuna_storage == "mysql://x/y"


def test_workspace_from_env(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(ENV_WORKSPACE, str(tmp_path / "envws"))
    assert Workspace.open().root == tmp_path / "envws"
