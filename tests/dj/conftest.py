"""Fixtures of the differential tests against the real Data-Juicer.

Data-Juicer is installed in its own venv by ``scripts/dj_env.sh`` (``.ci/run`` does it); without it these
tests are skipped, with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dj.djrun import dj_python


@pytest.fixture(scope="session")
def dj_py() -> Path:
    p = dj_python()
    if p is None:
        pytest.skip(
            "Data-Juicer venv not found (.venv-dj/bin/python or $RECIPELAB_DJ_PYTHON): run scripts/dj_env.sh "
            "(~5 min; .ci/run does it) to run the differential tests against the real py-data-juicer"
        )
    return p


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/dj/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.slow)

