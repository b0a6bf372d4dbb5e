#!/usr/bin/env bash
# Install the real py-data-juicer into its own venv (default .venv-dj), apart from recipelab's: its pins
# (and the packages it would otherwise install at run time) must not touch the project venv.
# Used by .ci/run and by tests/dj/ (differential tests) and benchmarks/ops_vs_dj.py. Takes ~5 minutes.
# The package list is the `dj` extra of pyproject.toml; see ../shared/DJ_NOTES.md for why each is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DJ_VENV:-.venv-dj}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-1.6.1"
if [ -f "$STAMP" ]; then echo "dj venv ready: $VENV"; exit 0; fi
"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip install -q"
# CPU torch first (on disk here); otherwise py-data-juicer's deps pull a multi-GB CUDA build.
if ! command -v nvidia-smi >/dev/null 2>&1; then $PIP torch==2.13.0; fi
# Everything Data-Juicer would otherwise try to `uv pip install` at run time (no network for that).
$PIP "py-data-juicer==1.6.1" aiohttp "ray>=2.51.0" simhash-pybind ftfy PyWavelets scikit-learn matplotlib
# image_deduplicator's PHash lives in imagededup; its other deps (tensorflow/torchvision) are not needed.
$PIP --no-deps imagededup
touch "$STAMP"
echo "dj venv ready: $VENV"
