"""Differential test: every op recipelab shares with Data-Juicer keeps exactly the samples the real
Data-Juicer keeps, on adversarial inputs (tests/dj/adversarial.py), for several parameter cases each.

Data-Juicer runs in its own venv (a subprocess: tests/dj/dj_driver.py), once for all cases; recipelab
computes the same cases in-process. A failure names the case and the differing ids with both stats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recipelab.data.reader import read_dataset
from recipelab.operators.base import Mapper
from recipelab.operators.registry import all_ops, create_op
from recipelab.operators.stats import StatsCache, compute_pipeline_stats
from recipelab.recipes import apply_ops
from tests.dj.adversarial import Pool, case_id, make_pool, param_cases, write_word_lists
from tests.dj.djrun import run_driver

MAPPERS = [
    "whitespace_normalization_mapper",
    "punctuation_normalization_mapper",
    "clean_links_mapper",
    "clean_email_mapper",
    "fix_unicode_mapper",
]


@pytest.fixture(scope="module")
def setup(dj_py: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dj_diff")
    pool = make_pool(tmp / "pool")
    words = write_word_lists(tmp / "words")
    cases = [(case_id(i, op, p), op, p) for i, (op, p) in enumerate(param_cases(pool, words))]
    mapper_cases = [(f"m-{name}", name, {}) for name in MAPPERS]
    dj = run_driver(
        dj_py, tmp, pool.jsonl, [{"id": c, "op": op, "params": p} for c, op, p in cases + mapper_cases]
    )
    ds = read_dataset(pool.jsonl, quiet=True)
    return {"pool": pool, "cases": cases, "dj": dj, "ds": ds}


def _ours(ds: Any, op_name: str, params: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    op = create_op(op_name, params)
    (stats,) = compute_pipeline_stats([op], ds.samples, ds.fingerprint, StatsCache(None), quiet=True)
    kept = apply_ops([op], [stats], len(ds)).kept
    return [s.id for s, k in zip(ds.samples, kept, strict=True) if k], stats


def _explain(ds: Any, ids: set[str], stats: dict[str, Any], dj_stats: list[Any], pool: Pool) -> str:
    lines = []
    index = {s.id: i for i, s in enumerate(ds.samples)}
    for sid in sorted(ids):
        i = index[sid]
        ours = {}
        for k, st in stats.items():
            if st.offsets is None:
                ours[k] = st.values[i].item() if isinstance(st.values[i], np.generic) else st.values[i]
            else:
                ours[k] = st.values[st.offsets[i] : st.offsets[i + 1]].tolist()
        lines.append(f"  {sid} text={ds.samples[i].text!r} ours={ours} dj={dj_stats[i] if dj_stats else '?'}")
    return "\n".join(lines)


def test_every_shared_op_is_covered() -> None:
    """The cases name every op that is in both libraries (a new shared op must get cases here)."""
    from tests.dj.adversarial import param_cases as pc

    covered = {op for op, _ in pc(Pool(Path("x"), [], {n: 1000 for n in ("square64.png",)}), Path("w"))}
    shared = {n for n, c in all_ops().items() if not c.new_op and not issubclass(c, Mapper)}
    shared.discard("image_text_similarity_filter")  # needs a real CLIP in Data-Juicer; see test_export_dj
    assert shared <= covered, f"no differential cases for {sorted(shared - covered)}"


def test_kept_ids_identical_per_op_and_params(setup: dict[str, Any]) -> None:
    ds, dj, pool = setup["ds"], setup["dj"], setup["pool"]
    failures = []
    for cid, op, params in setup["cases"]:
        res = dj[cid]
        if "error" in res:
            failures.append(f"{cid}: Data-Juicer raised {res['error']}")
            continue
        ours, stats = _ours(ds, op, params)
        if ours != res["kept"]:
            diff = set(ours) ^ set(res["kept"])
            failures.append(
                f"{cid}: {len(diff)} decision(s) differ (ours kept {len(ours)}, Data-Juicer {len(res['kept'])})\n"
                + _explain(ds, diff, stats, res.get("stats") or [], pool)
            )
    assert not failures, f"{len(failures)} of {len(setup['cases'])} cases differ:\n" + "\n".join(failures)


def test_mappers_rewrite_texts_identically(setup: dict[str, Any]) -> None:
    ds, dj = setup["ds"], setup["dj"]
    texts = [s.text for s in ds.samples]
    failures = []
    for name in MAPPERS:
        res = dj[f"m-{name}"]
        if "error" in res:
            failures.append(f"{name}: Data-Juicer raised {res['error']}")
            continue
        ours = create_op(name).process_texts(list(texts))
        for before, a, b in zip(texts, ours, res["texts"], strict=True):
            if a != b:
                failures.append(f"{name}: {before!r} -> ours {a!r}, Data-Juicer {b!r}")
    assert not failures, "\n".join(failures)
