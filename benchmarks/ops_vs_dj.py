"""recipelab's ops against the real Data-Juicer: same ops, same 10k samples, both libraries in one run.

For every op both have, it times recipelab (stats computed cold, no cache, then the keep decision) and
Data-Juicer 1.6.1 (the op's own ``run``: ``datasets`` map of compute_stats + filter, or hash + dedup),
both in one process (recipelab ``workers=1``, Data-Juicer ``num_proc=1``), and checks that the kept ids
are identical. Writes benchmarks/results/ops_vs_dj.md with the commit. Targets (issue 13): >= 3x on image
ops, >= 1x on text ops, identical decisions.

Run by hand (never during tests): ``python benchmarks/ops_vs_dj.py [--size 10000]``. Needs the Data-Juicer
venv (``scripts/dj_env.sh``; or ``RECIPELAB_DJ_PYTHON``).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.dj: the Data-Juicer driver and word lists shared with the tests

from recipelab.data.benchmark import make_benchmark  # noqa: E402
from recipelab.data.reader import read_dataset  # noqa: E402
from recipelab.operators.registry import create_op  # noqa: E402
from recipelab.operators.stats import StatsCache, compute_pipeline_stats  # noqa: E402
from recipelab.recipes import apply_ops  # noqa: E402
from tests.dj.adversarial import write_word_lists  # noqa: E402
from tests.dj.djrun import dj_python, run_driver  # noqa: E402


def cases(words: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, op, params): defaults, except word lists from local files (Data-Juicer would download)."""
    wd = str(words)
    text = [
        ("text_length_filter", {}),
        ("words_num_filter", {}),
        ("word_repetition_filter", {}),
        ("character_repetition_filter", {}),
        ("special_characters_filter", {}),
        ("alphanumeric_filter", {}),
        ("average_line_length_filter", {}),
        ("maximum_line_length_filter", {}),
        ("stopwords_filter", {"stopwords_dir": wd}),
        ("flagged_words_filter", {"flagged_words_dir": wd}),
        ("document_deduplicator", {}),
        ("document_simhash_deduplicator", {}),
        ("document_minhash_deduplicator", {}),
    ]
    image = [
        ("image_aspect_ratio_filter", {}),
        ("image_shape_filter", {}),
        ("image_size_filter", {"min_size": "3KB"}),
        ("image_deduplicator", {}),
    ]
    return [("text", n, p) for n, p in text] + [("image", n, p) for n, p in image]


def ours(ds: Any, name: str, params: dict[str, Any]) -> tuple[list[str], float]:
    op = create_op(name, params)
    t0 = time.perf_counter()
    (st,) = compute_pipeline_stats([op], ds.samples, ds.fingerprint, StatsCache(None), workers=1, quiet=True)
    kept = apply_ops([op], [st], len(ds)).kept
    seconds = time.perf_counter() - t0
    return [s.id for s, k in zip(ds.samples, kept, strict=True) if k], seconds


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "recipelab/operators"], cwd=REPO,
                               capture_output=True, text=True)  # fmt: skip
        return sha.stdout.strip() + (" (operators modified)" if dirty.stdout.strip() else "")
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ops_vs_dj.md")
    args = ap.parse_args()
    py = dj_python()
    if py is None:
        sys.exit("Data-Juicer venv not found: run scripts/dj_env.sh (or set RECIPELAB_DJ_PYTHON)")
    tmp = Path(tempfile.mkdtemp(prefix="ops-vs-dj-"))
    try:
        make_benchmark(tmp / "bench", size=args.size, n_eval=10, n_test=10, seed=0)
        pool = tmp / "bench" / "pool.jsonl"
        ds = read_dataset(pool, quiet=True, cache_dir=tmp / "dscache")
        words = write_word_lists(tmp / "words")
        todo = cases(words)
        t0 = time.perf_counter()
        dj = run_driver(
            py, tmp, pool, [{"id": n, "op": n, "params": p} for _, n, p in todo], timeout=3600, with_stats=False
        )
        dj_wall = time.perf_counter() - t0
        rows = []
        for kind, name, params in todo:
            kept, secs = ours(ds, name, params)
            res = dj[name]
            if "error" in res:
                rows.append((kind, name, secs, None, None, f"Data-Juicer error: {res['error']}", len(kept)))
                continue
            same = kept == res["kept"]
            rows.append((kind, name, secs, res["seconds"], res["seconds"] / secs, "yes" if same else "NO", len(kept)))
            print(f"{name:32s} ours {len(ds) / secs:9.0f}/s  dj {len(ds) / res['seconds']:9.0f}/s  identical={same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = len(ds)
    lines = [
        "# recipelab vs Data-Juicer: same ops, same samples",
        "",
        f"`python benchmarks/ops_vs_dj.py --size {args.size}` — commit {commit()}, {platform.machine()}, "
        f"{platform.python_version()}, py-data-juicer 1.6.1 (own venv), {n} samples of the built-in benchmark "
        "(64 px PNG, captions with Data-Juicer's special tokens).",
        "",
        "Both single-process: recipelab computes stats cold (no cache) with `workers=1` and applies the op;",
        "Data-Juicer runs the op's own `run` (`datasets` map of `compute_stats`, then `filter`; or hash +",
        "dedup) with `num_proc=1`. Data-Juicer's time excludes its import and the dataset load. Default params",
        "(word lists from local files, `image_size_filter` with `min_size: 3KB`). Identical = same kept ids in",
        f"the same order. Data-Juicer's driver process took {dj_wall:.0f} s in all.",
        "",
        "| kind | op | recipelab samples/s | Data-Juicer samples/s | speed ratio | identical | kept |",
        "| --- | --- | ---: | ---: | ---: | :---: | ---: |",
    ]
    for kind, name, secs, dj_secs, ratio, same, kept in rows:
        dj_rate = f"{n / dj_secs:,.0f}" if dj_secs else "-"
        ratio_s = f"{ratio:.1f}x" if ratio else "-"
        lines.append(f"| {kind} | {name} | {n / secs:,.0f} | {dj_rate} | {ratio_s} | {same} | {kept} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
