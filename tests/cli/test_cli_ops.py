"""``recipelab ops``, ``--help`` and start-up: the registry as JSON and tables, one-line unknown-op errors."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.cli._cli import invoke


def test_ops_list_and_show() -> None:
    r = invoke("ops", "list", "--json")
    assert r.exit_code == 0
    ops = {o["name"]: o for o in json.loads(r.stdout)}
    assert len(ops) >= 26  # the 11 text, 6 image, 4 dedup ops and 5 mappers of the foundation issue
    assert ops["text_length_filter"]["stats_keys"] == ["text_len"]
    assert ops["image_sharpness_filter"]["new_op"] is True
    r = invoke("ops", "show", "image_aspect_ratio_filter")
    assert r.exit_code == 0 and "min_ratio" in r.stdout and "aspect_ratios" in r.stdout
    r = invoke("ops", "show", "image_aspect_filter")
    assert r.exit_code == 2 and "did you mean" in r.stderr and "image_aspect_ratio_filter" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_ops_list_table_and_help() -> None:
    r = invoke("ops", "list")
    assert r.exit_code == 0 and "operators" in r.stdout and "text_length_filter" in r.stdout
    r = invoke("--help")
    assert r.exit_code == 0
    for cmd in ("analyze", "apply", "search", "probe", "runs", "experiments", "chat", "logs", "report", "ops", "bench"):
        assert cmd in r.stdout


def test_importing_the_cli_does_not_import_torch() -> None:
    """``recipelab --help`` and ``ops list`` must start fast: library modules load inside the commands."""
    code = "import sys, recipelab.cli; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
