"""Describe a dataset through its op stats: a table per stat, histograms and a correlation heatmap.

This is what a user looks at before any search, and what the planners read as the "stats quantiles"
part of the state.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recipelab.data.reader import Dataset
from recipelab.operators.base import Deduplicator, Filter, Operator, Stats
from recipelab.operators.registry import all_ops, create_op
from recipelab.operators.stats import StatsCache, compute_pipeline_stats

if TYPE_CHECKING:
    from recipelab.data.reader import OnError
    from recipelab.workspace import Workspace

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def default_analysis_ops(include_similarity: bool = True) -> list[Operator]:
    ops: list[Operator] = []
    for name, cls in all_ops().items():
        if cls.kind == "mapper":
            continue
        if name == "image_text_similarity_filter" and not include_similarity:
            continue
        ops.append(create_op(name))
    return ops


@dataclass
class Analysis:
    table: pd.DataFrame  # one row per sample, one column per stat key (ragged stats: mean per sample)
    describe: pd.DataFrame  # one row per stat key
    duplicates: dict[str, int]  # dedup op -> samples it would remove from the whole pool
    stats: dict[str, Stats]  # op name -> raw stats


def analyze_dataset(
    ds: Dataset, ops: Sequence[Operator], cache: StatsCache, workers: int = 1, quiet: bool = False
) -> Analysis:
    per_op = compute_pipeline_stats(ops, ds.samples, ds.fingerprint, cache, workers=workers, quiet=quiet)
    cols: dict[str, np.ndarray] = {}
    dups: dict[str, int] = {}
    raw: dict[str, Stats] = {}
    for op, st in zip(ops, per_op, strict=True):
        if st is None:
            continue
        raw[op.name] = st
        if isinstance(op, Deduplicator):
            labels = st[op.hash_key].values
            dups[op.name] = int(len(labels) - len(np.unique(labels)))
        elif isinstance(op, Filter):
            for k, s in st.items():
                cols[k] = s.per_sample("mean")
    table = pd.DataFrame(cols, index=pd.Index(ds.ids, name="id"))
    return Analysis(table=table, describe=describe_table(table), duplicates=dups, stats=raw)


def describe_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for col in table.columns:
        v = table[col].to_numpy(dtype=float)
        fin = v[np.isfinite(v)]
        row = {"stat": col, "count": int(len(fin)), "missing": int(len(v) - len(fin))}
        if len(fin):
            row.update(
                mean=float(fin.mean()),
                std=float(fin.std(ddof=1)) if len(fin) > 1 else 0.0,
                min=float(fin.min()),
                max=float(fin.max()),
            )
            for q, x in zip(QUANTILES, np.quantile(fin, QUANTILES), strict=True):
                row[f"q{int(q * 100):02d}"] = float(x)
        rows.append(row)
    return pd.DataFrame(rows).set_index("stat") if rows else pd.DataFrame()


def write_plots(analysis: Analysis, out: Path) -> list[Path]:
    """One histogram PNG per stat and a correlation heatmap; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for col in analysis.table.columns:
        v = analysis.table[col].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        fig, ax = plt.subplots(figsize=(5, 3.2))
        if len(v):
            lo, hi = np.quantile(v, [0.0, 0.995])
            ax.hist(np.clip(v, lo, hi), bins=50, color="#4a78b5")
        ax.set_title(col)
        ax.set_ylabel("samples")
        fig.tight_layout()
        p = out / f"hist_{col}.png"
        fig.savefig(p, dpi=80)
        plt.close(fig)
        files.append(p)
    num = analysis.table.select_dtypes("number")
    if num.shape[1] >= 2:
        corr = num.corr(method="spearman").fillna(0.0)
        fig, ax = plt.subplots(figsize=(1 + 0.45 * len(corr), 0.8 + 0.45 * len(corr)))
        im = ax.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(corr)), corr.columns, rotation=70, ha="right", fontsize=7)
        ax.set_yticks(range(len(corr)), corr.columns, fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title("Spearman correlation of stats")
        fig.tight_layout()
        p = out / "correlation.png"
        fig.savefig(p, dpi=80)
        plt.close(fig)
        files.append(p)
    return files


@dataclass
class AnalyzeReport:
    """What `analyze_to_folder` computed and wrote."""

    data: Path
    samples: int
    rejected: int
    fingerprint: str
    analysis: Analysis
    out_dir: Path
    plots: list[Path]
    seconds: float
    cache_hits: int
    cache_misses: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": str(self.data),
            "samples": self.samples,
            "rejected": self.rejected,
            "fingerprint": self.fingerprint,
            "describe": self.analysis.describe.reset_index().to_dict(orient="records"),
            "duplicates": self.analysis.duplicates,
            "out": str(self.out_dir),
            "plots": [str(p) for p in self.plots],
            "seconds": self.seconds,
            "cache": {"hits": self.cache_hits, "misses": self.cache_misses},
        }


def analyze_to_folder(
    ws: Workspace,
    data: str | Path,
    ops: list[str] | None = None,
    out_dir: Path | None = None,
    workers: int = 2,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> AnalyzeReport:
    """Read a dataset, compute (or load cached) the stats of ``ops`` (default: every filter and dedup) and
    write describe.csv, stats.csv and the plots to ``out_dir`` (default ``<workspace>/analysis/<fp>``).

    Raises `UnknownOperatorError` (a KeyError) before reading anything, `DataError` on bad rows.
    """
    from recipelab.operators.registry import create_op

    op_list = [create_op(n) for n in ops] if ops else default_analysis_ops()
    ds = ws.read(data, on_error=on_error, quiet=quiet)
    cache = ws.stats_cache()
    t0 = time.perf_counter()
    an = analyze_dataset(ds, op_list, cache, workers=workers, quiet=quiet)
    secs = time.perf_counter() - t0
    out_dir = out_dir or (ws.root / "analysis" / ds.fingerprint[:12])
    out_dir.mkdir(parents=True, exist_ok=True)
    an.describe.to_csv(out_dir / "describe.csv")
    an.table.to_csv(out_dir / "stats.csv")
    plots = write_plots(an, out_dir)
    return AnalyzeReport(
        data=Path(data),
        samples=len(ds),
        rejected=len(ds.rejects),
        fingerprint=ds.fingerprint,
        analysis=an,
        out_dir=out_dir,
        plots=plots,
        seconds=secs,
        cache_hits=cache.hits,
        cache_misses=cache.misses,
    )
