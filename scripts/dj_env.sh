#!/usr/bin/env bash
# Install the real py-data-juicer into its own venv (default .venv-dj), apart from recipelab's: its pins
# (and the packages it would otherwise install at run time) must not touch the project venv.
# Used by .ci/run, by tests/dj/ (differential tests, dj-process round trip) and benchmarks/ops_vs_dj.py.
# Takes ~5-6 minutes the first time; a second run only checks the stamp. The package list is the `dj`
# extra of pyproject.toml; ../shared/DJ_NOTES.md says why each is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DJ_VENV:-.venv-dj}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.installed-dj-1.6.1-r2"
if [ -f "$STAMP" ]; then echo "dj venv ready: $VENV"; exit 0; fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip install -q"
# CPU torch first (on disk here); otherwise py-data-juicer's deps pull a multi-GB CUDA build.
if ! command -v nvidia-smi >/dev/null 2>&1; then $PIP torch==2.13.0; fi
# Everything Data-Juicer would otherwise try to `uv pip install` at run time (no network for that):
# aiohttp and ray (imported by every op), simhash-pybind (simhash dedup), ftfy (fix_unicode_mapper),
# PyWavelets/scikit-learn/matplotlib (imagededup's hashing).
$PIP "py-data-juicer==1.6.1" aiohttp "ray>=2.51.0" simhash-pybind ftfy PyWavelets scikit-learn matplotlib
# image_deduplicator's PHash lives in imagededup; its other deps (tensorflow/torchvision) are not needed.
$PIP --no-deps imagededup==0.3.3.post2
# imagededup imports its CNN modules (torchvision) when the package is imported, although its hashing
# does not use them, and the torchvision that py-data-juicer's deps bring does not load with the CPU
# torch: stand-ins are registered at interpreter start (a .pth file), so that dj-process itself can run
# image_deduplicator here.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cat > "$SITE/recipelab_imagededup_stub.py" <<'PY'
"""Stand-ins for imagededup's CNN modules (torchvision), unused by its hashing (recipelab's scripts/dj_env.sh)."""
import sys
import types

for _mod, _names in (("imagededup.utils.models", ("CustomModel",)), ("imagededup.methods.cnn", ("CNN",))):
    if _mod not in sys.modules:
        _m = types.ModuleType(_mod)
        for _n in _names:
            setattr(_m, _n, type(_n, (), {}))
        sys.modules[_mod] = _m
PY
echo "import recipelab_imagededup_stub" > "$SITE/recipelab_imagededup_stub.pth"
"$VENV/bin/python" -c "import data_juicer, imagededup.methods, simhash, ftfy"
touch "$STAMP"
echo "dj venv ready: $VENV"
