"""Runs inside the Data-Juicer venv (not recipelab's): applies real Data-Juicer ops and prints kept ids.

Usage: ``<dj-venv>/bin/python dj_driver.py JOB.json OUT.json`` where JOB is
``{"jsonl": path, "cases": [{"id": str, "op": name, "params": {...}}], "with_stats": bool}``. Each case runs
one op with ``op.run(dataset)`` (Data-Juicer's own map/filter or dedup ``process``), one process
(``num_proc=1``) so results do not depend on the machine. OUT gets, per case id, ``{"kept": [ids],
"stats": [per-sample stats or hash], "seconds": float}`` or ``{"error": "..."}``.

This file imports nothing from recipelab: it is the Data-Juicer side of the differential tests and of
``benchmarks/ops_vs_dj.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import types
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _stub_imagededup_cnn() -> None:
    """imagededup imports its CNN modules (torchvision) at package import; its hashing, all that
    Data-Juicer's image_deduplicator uses, does not need them: stand-ins with the imported names."""
    for mod, names in (("imagededup.utils.models", ("CustomModel",)), ("imagededup.methods.cnn", ("CNN",))):
        if mod not in sys.modules:
            m = types.ModuleType(mod)
            for n in names:
                setattr(m, n, type(n, (), {}))
            sys.modules[mod] = m


_stub_imagededup_cnn()


def _jsonable(v: Any) -> Any:
    import numpy as np

    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.hex()
    return v


def _quiet() -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    import datasets

    datasets.disable_progress_bars()
    datasets.disable_caching()


def run_case(
    rows: list[dict[str, Any]], op_name: str, params: dict[str, Any], with_stats: bool = True
) -> dict[str, Any]:
    from data_juicer.core.data import NestedDataset
    from data_juicer.ops.base_op import OPERATORS, Deduplicator, Filter
    from data_juicer.utils.constant import Fields, HashKeys

    cls = OPERATORS.modules[op_name]
    op = cls(**params, num_proc=1)
    ds = NestedDataset.from_list(rows)
    t0 = time.perf_counter()
    if isinstance(op, Filter):
        with_stats = op.run(ds, reduce=False)  # Data-Juicer's own map of compute_stats
        kept = with_stats.filter(op.process, batch_size=op.batch_size)  # what run(reduce=True) does next
        seconds = time.perf_counter() - t0
        stats = list(with_stats[Fields.stats])
    elif isinstance(op, Deduplicator):
        hashed = op.run(ds, reduce=False)
        kept, _ = op.process(hashed)
        seconds = time.perf_counter() - t0
        hash_cols = [c for c in hashed.column_names if c in vars(HashKeys).values()]
        stats = [{c: hashed[c][i] for c in hash_cols} for i in range(len(hashed))]
    else:
        out = op.run(ds)
        seconds = time.perf_counter() - t0
        return {"texts": list(out["text"]), "kept": list(out["id"]), "seconds": seconds}
    out = {"kept": list(kept["id"]), "seconds": seconds}
    if with_stats:
        out["stats"] = _jsonable(list(stats))
    return out


def main() -> None:
    job = json.loads(open(sys.argv[1], encoding="utf-8").read())
    _quiet()
    with open(job["jsonl"], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    base = os.path.dirname(os.path.abspath(job["jsonl"]))
    for r in rows:  # relative image paths are relative to the JSONL's folder (as dj-process resolves them)
        if r.get("images"):
            r["images"] = [p if os.path.isabs(p) else os.path.join(base, p) for p in r["images"]]
    out: dict[str, Any] = {}
    for case in job["cases"]:
        try:
            out[case["id"]] = run_case(rows, case["op"], case.get("params") or {}, job.get("with_stats", True))
        except Exception as e:  # report per case; the test shows it
            out[case["id"]] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=4)}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
