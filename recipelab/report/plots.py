"""The report's plots: matplotlib figures rendered off-screen (Agg) to PNG bytes.

Figures are built with ``matplotlib.figure.Figure`` directly, never through ``pyplot``: no global
state, no GUI backend, safe in a thread and in a process that already uses another backend.
Labels coming from the memory are passed through :func:`_label`, so a ``$`` in an LLM-written
purpose is drawn as text, not parsed as mathtext.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recipelab.report.data import Distribution, EffectRow, ProgressPoint, ThresholdPoint, Transfer

DPI = 100
GOOD, BAD, NEUTRAL, ACCENT = "#2e7d32", "#c62828", "#757575", "#1565c0"
#: Colours of purpose families in scatter plots.
FAMILY_COLOURS = {
    "baseline": "#000000",
    "screen": "#1565c0",
    "tertile": "#1565c0",
    "search": "#ef6c00",
    "combine": "#6a1b9a",
    "replicate": "#2e7d32",
    "user": "#c2185b",
}


def _label(text: object, limit: int = 60) -> str:
    s = str(text).replace("$", r"\$")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _family(purpose: str) -> str:
    return purpose.split(":", 1)[0] if purpose else "other"


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ---------------------------------------------------------------------- progress
def progress_plot(points: Sequence[ProgressPoint], baseline: float | None, metric: str = "metric") -> bytes:
    """Best-so-far (mean and 90% CI of the recipe chosen at each point) against the probe index and
    against wall time; each probe's own metric as a dot; the no-filter baseline as a line."""
    fig = new_figure(11, 3.8)
    axes = fig.subplots(1, 2, sharey=True)
    xs_idx = [p.index for p in points]
    xs_t = [p.t_s if p.t_s is not None else math.nan for p in points]
    for ax, xs, xlabel in (
        (axes[0], xs_idx, "probe"),
        (axes[1], xs_t, "wall time since the run started (s)"),
    ):
        own = [(x, p.metric) for x, p in zip(xs, points, strict=True) if p.metric is not None]
        if own:
            ax.scatter(*zip(*own, strict=True), s=12, color=NEUTRAL, alpha=0.6, label="probe", zorder=2)
        best = [(x, p) for x, p in zip(xs, points, strict=True) if p.best_mean is not None and math.isfinite(x)]
        if best:
            bx = np.array([x for x, _ in best], dtype=float)
            bm = np.array([p.best_mean for _, p in best], dtype=float)
            lo = np.array([p.best_lo for _, p in best], dtype=float)
            hi = np.array([p.best_hi for _, p in best], dtype=float)
            ax.step(bx, bm, where="post", color=ACCENT, lw=2, label="best so far (by LCB)", zorder=3)
            ax.fill_between(bx, lo, hi, step="post", color=ACCENT, alpha=0.15, label="90% CI", zorder=1)
        if baseline is not None and math.isfinite(baseline):
            ax.axhline(baseline, color=BAD, ls="--", lw=1.2, label="baseline (no filter)", zorder=2)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(_label(metric))
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Best recipe so far")
    return to_png(fig)


# ---------------------------------------------------------------------- effects
def effects_plot(rows: Sequence[EffectRow], title: str) -> bytes:
    """Horizontal error bars: each op's effect on the metric vs the baseline with its 90% CI."""
    n = len(rows)
    fig = new_figure(8, 0.9 + 0.38 * max(n, 1))
    ax = fig.subplots()
    ys = np.arange(n)[::-1]
    for y, r in zip(ys, rows, strict=True):
        colour = GOOD if r.lo > 0 else BAD if r.hi < 0 else NEUTRAL
        ax.errorbar(
            r.mean, y, xerr=[[r.mean - r.lo], [r.hi - r.mean]], fmt="o", color=colour, capsize=3, elinewidth=1.5
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys, [_label(r.label, 48) for r in rows], fontsize=8)
    ax.set_xlabel("effect on the metric vs the baseline (90% CI)")
    ax.set_title(_label(title, 80), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return to_png(fig)


# ---------------------------------------------------------------------- distributions
def distribution_plot(d: Distribution) -> bytes:
    """Histogram of one stat on the pool, the final thresholds as vertical lines, the removed range
    shaded."""
    fig = new_figure(5.2, 2.9)
    ax = fig.subplots()
    vals = d.values
    lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)
    ax.hist(vals, bins=min(50, max(10, int(math.sqrt(max(len(vals), 1))))), color="#90a4ae", edgecolor="white")
    for b in d.bounds:
        if b.cuts:
            if b.side == "min":
                ax.axvspan(lo, b.value, color=BAD, alpha=0.12, lw=0)
            else:
                ax.axvspan(b.value, hi, color=BAD, alpha=0.12, lw=0)
        ax.axvline(
            b.value,
            color=BAD if b.cuts else NEUTRAL,
            ls="-" if b.cuts else ":",
            lw=1.8 if b.cuts else 1.0,
            label=f"{_label(b.param)} = {b.value:.4g} " + (f"(drops {b.dropped:.1%})" if b.cuts else "(keeps all)"),
        )
    ax.set_title(_label(f"{d.op}: {d.stat_key}", 70), fontsize=9)
    ax.set_xlabel(_label(d.stat_key) + (" (per image)" if d.per == "element" else ""), fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    ax.tick_params(labelsize=7)
    if d.bounds:
        ax.legend(fontsize=7, loc="best")
    return to_png(fig)


# ---------------------------------------------------------------------- thresholds
def threshold_plot(points: dict[str, list[ThresholdPoint]], baseline: float | None, cols: int = 3) -> bytes:
    """One small scatter per threshold param: probes' metric against the param's quantile."""
    keys = list(points)
    rows = max(1, math.ceil(len(keys) / cols))
    fig = new_figure(4.0 * cols, 2.9 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    seen: set[str] = set()
    for ax, key in zip(axes, keys, strict=False):
        for fam in sorted({_family(p.purpose) for p in points[key]}):
            ps = [p for p in points[key] if _family(p.purpose) == fam]
            ax.scatter(
                [p.quantile for p in ps],
                [p.metric for p in ps],
                s=16,
                alpha=0.8,
                color=FAMILY_COLOURS.get(fam, NEUTRAL),
                label=None if fam in seen else _label(fam),
            )
            seen.add(fam)
        if baseline is not None and math.isfinite(baseline):
            ax.axhline(baseline, color=BAD, ls="--", lw=1)
        ax.set_title(_label(key, 50), fontsize=8)
        ax.set_xlabel("quantile of the stat on the pool", fontsize=7)
        ax.set_xlim(-0.03, 1.03)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes[: len(keys)]:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncol=min(len(labels), 7), fontsize=8, frameon=False)
    return to_png(fig)


# ---------------------------------------------------------------------- importances
def importance_plot(importances: dict[str, float], title: str) -> bytes:
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = new_figure(7, 0.9 + 0.35 * max(len(items), 1))
    ax = fig.subplots()
    ax.barh([_label(k, 48) for k, _ in items], [v for _, v in items], color=ACCENT)
    ax.set_xlabel("importance (fANOVA)")
    ax.set_title(_label(title, 80), fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return to_png(fig)


def surrogate_plot(pairs: Sequence[dict]) -> bytes:
    """Predicted (before the probe) vs measured, one point per search trial, by who picked it."""
    fig = new_figure(5.5, 4.2)
    ax = fig.subplots()
    colours = {"surrogate": ACCENT, "tpe": "#ef6c00", "start": NEUTRAL}
    for who, colour in colours.items():
        pts = [p for p in pairs if p.get("picked_by") == who]
        if pts:
            ax.errorbar(
                [p["predicted"] for p in pts],
                [p["measured"] for p in pts],
                xerr=[p.get("sd", 0.0) for p in pts],
                fmt="o",
                color=colour,
                label=f"{who}'s pick",
                alpha=0.8,
            )
    vals = [v for p in pairs for v in (p["predicted"], p["measured"])]
    if vals:
        lo, hi = min(vals), max(vals)
        ax.plot([lo, hi], [lo, hi], color=NEUTRAL, lw=0.8, ls="--")
    ax.set_xlabel("surrogate prediction (± sd)")
    ax.set_ylabel("measured")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return to_png(fig)


def fidelity_plot(curves: dict[str, list[tuple[int, float]]], rungs: Sequence[int], metric: str = "metric") -> bytes:
    """Each probe's score along its schedule: lines that stop at a lower rung are the ones successive
    halving (or the pruner) stopped there."""
    fig = new_figure(6.5, 4.2)
    ax = fig.subplots()
    full = max(rungs) if rungs else None
    for purpose, pts in curves.items():
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        done = full is not None and xs[-1] >= full
        ax.plot(xs, ys, marker="o", lw=1.2, alpha=0.85 if done else 0.45,
                color=ACCENT if done else NEUTRAL, label=purpose if done else None)  # fmt: skip
    for r in rungs:
        ax.axvline(r, color=NEUTRAL, lw=0.6, ls=":")
    ax.set_xlabel("training step (rungs dotted)")
    ax.set_ylabel(metric)
    if any(ax.get_legend_handles_labels()[1]):
        ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    return to_png(fig)


def transfer_plot(t: Transfer, metric: str = "metric") -> bytes:
    """Probe-scale mean (90% CI) vs scale-up mean (seed sd), one point per recipe, labelled by rank; every
    pair joined by a line, green where the scale-up kept the probe-scale order, red dashed where it flipped."""
    fig = new_figure(5.5, 4.2)
    ax = fig.subplots()
    by = {p.rank: p for p in t.points}
    for a, b, kept in t.pairs:
        if a in by and b in by:
            pa, pb = by[a], by[b]
            ax.plot([pa.probe_mean, pb.probe_mean], [pa.scale_mean, pb.scale_mean], lw=0.8, alpha=0.5,
                    color=GOOD if kept else BAD, ls="-" if kept else "--")  # fmt: skip
    for p in t.points:
        ax.errorbar(
            [p.probe_mean], [p.scale_mean],
            xerr=[[p.probe_mean - p.probe_lo], [p.probe_hi - p.probe_mean]], yerr=[p.scale_sd],
            fmt="o", color="#000000" if p.rank == 0 else ACCENT, mfc="white" if p.capped else None,
        )  # fmt: skip
        ax.annotate(_label(p.rank), (p.probe_mean, p.scale_mean), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)  # fmt: skip
    ax.set_xlabel(_label(f"probe scale {metric} (90% CI)"))
    ax.set_ylabel(_label(f"scale-up {metric} (± seed sd)"))
    ax.grid(alpha=0.3)
    return to_png(fig)
