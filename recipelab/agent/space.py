"""The recipe space of one pool: candidate ops, their stats, quantile <-> value maps, training-free priors.

Thresholds are searched in quantile space so that the same plan ("drop the lowest 10% by sharpness")
means the same thing on any dataset; this module turns such plans into concrete Data-Juicer recipes.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recipelab.agent.plan import OpChoice, ParamValue, RankBand
from recipelab.data.reader import Dataset
from recipelab.operators.base import Deduplicator, Filter, Operator, QuantileDim, Stat, Stats, default_search_space
from recipelab.operators.registry import all_ops, create_op, get_op_class
from recipelab.operators.stats import StatsCache, compute_pipeline_stats
from recipelab.recipes import ApplyResult, OpSpec, Recipe, apply_ops

SIMILARITY_OP = "image_text_similarity_filter"
#: Ops left out of the default candidate set: they duplicate another op's signal at a higher cost, or
#: need resources we don't ship.
DEFAULT_EXCLUDE: tuple[str, ...] = ()
#: Quantiles at which a tail is considered for a prior and for a screening threshold.
TAIL_QS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
#: Sane range for the similarity screening tail derived from the scores (``mixture_tail``): at least a
#: sliver (a tail of 0 screens nothing), at most half the pool (beyond that the "low" component is the
#: majority of the pool and no longer an odd cluster).
SIM_TAIL_RANGE = (0.02, 0.5)
#: Range of the tail screened on a side with no training-free evidence (``PoolSpace.side_tail``).
PLAIN_TAIL_RANGE = (0.02, 0.1)
#: Ashman's D above which two Gaussian components count as separated (D > 2: a clean separation).
SEPARATION_D = 2.0
#: BIC gain of two components over one needed to believe a second component (> 10: "very strong").
SEPARATION_BIC = 10.0


@dataclass
class TailFit:
    """Where a score distribution splits into a low cluster and the rest (``mixture_tail``)."""

    q: float  # tail to screen: the low component's share when separated, else the range's floor
    separated: bool
    share: float = 0.0  # the low component's mixing weight (nan when no fit)
    low_mean: float = float("nan")
    high_mean: float = float("nan")
    d: float = 0.0  # Ashman's D of the two components
    bic_gain: float = 0.0  # BIC(one component) - BIC(two components)

    def why(self) -> str:
        if self.separated:
            return (
                f"proxy scores split into a low cluster of {self.share:.1%} (mean {self.low_mean:.3f} vs "
                f"{self.high_mean:.3f}, separation D={self.d:.1f}): screen its {self.q:.0%} tail"
            )
        return f"proxy scores show no separate low cluster (D={self.d:.1f}, BIC gain {self.bic_gain:.0f})"


def _npdf(x: np.ndarray, m: float, s: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def _em2(v: np.ndarray, w0: float, m0: tuple[float, float], s0: float, iters: int = 300) -> tuple[float, ...]:
    """EM for a two-component 1-D Gaussian mixture from one start; (loglik, w_lo, mu_lo, sd_lo, mu_hi, sd_hi)."""
    w = np.array([w0, 1 - w0])
    mu = np.array(m0, dtype=float)
    sd = np.array([s0, s0], dtype=float)
    floor = 1e-3 * (float(v.std()) or 1.0)
    ll_old = -np.inf
    ll = ll_old
    for _ in range(iters):
        p = np.stack([w[k] * _npdf(v, mu[k], sd[k]) for k in range(2)]) + 1e-300
        tot = p.sum(0)
        ll = float(np.log(tot).sum())
        r = p / tot
        nk = r.sum(1) + 1e-12
        w = nk / len(v)
        mu = (r * v).sum(1) / nk
        sd = np.maximum(np.sqrt((r * (v - mu[:, None]) ** 2).sum(1) / nk), floor)
        if ll - ll_old < 1e-9 * abs(ll):
            break
        ll_old = ll
    lo = int(np.argmin(mu))
    hi = 1 - lo
    return ll, float(w[lo]), float(mu[lo]), float(sd[lo]), float(mu[hi]), float(sd[hi])


def mixture_tail(values: np.ndarray, q_range: tuple[float, float] = SIM_TAIL_RANGE) -> TailFit:
    """The share of a low-score cluster, from a two-component Gaussian mixture on the scores.

    EM runs from several starts (a low component of 2% ... 50% of the pool); a start counts only when
    its two components separate (Ashman's D >= ``SEPARATION_D``) and two components explain the scores
    better than one by a BIC margin of ``SEPARATION_BIC``; of those, the best likelihood wins, and its
    low component's weight, clamped to ``q_range``, is the tail to screen. Without such a split (a pool
    without mismatched pairs, or a proxy that cannot tell them) the tail is the range's floor and
    ``separated`` is False, so the caller treats the op like one without evidence."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo_q, hi_q = q_range
    if len(v) < 20 or float(v.std()) == 0.0:
        return TailFit(lo_q, False, float("nan"))
    n = len(v)
    ll1 = float(np.log(_npdf(v, float(v.mean()), float(v.std())) + 1e-300).sum())
    bic1 = -2 * ll1 + 2 * math.log(n)
    best: TailFit | None = None
    best_ll = -np.inf
    closest = TailFit(lo_q, False, float("nan"))
    for share in (0.02, 0.05, 0.1, 0.2, 0.35, 0.5):
        cut = float(np.quantile(v, share))
        low, high = v[v <= cut], v[v > cut]
        if len(low) < 2 or len(high) < 2:
            continue
        ll, w, m_lo, s_lo, m_hi, s_hi = _em2(v, share, (float(low.mean()), float(high.mean())), float(high.std()))
        d = abs(m_hi - m_lo) / math.sqrt((s_lo**2 + s_hi**2) / 2)
        gain = bic1 - (-2 * ll + 5 * math.log(n))
        fit = TailFit(min(max(w, lo_q), hi_q), True, w, m_lo, m_hi, d, gain)
        if d >= SEPARATION_D and gain >= SEPARATION_BIC:
            if ll > best_ll:
                best, best_ll = fit, ll
        elif best is None and (closest.d == 0.0 or gain > closest.bic_gain):
            closest = TailFit(lo_q, False, w, m_lo, m_hi, d, gain)
    return best if best is not None else closest


@dataclass
class Prior:
    """Training-free evidence that one side of one op's stat holds bad samples.

    With a proxy CLIP in the candidate set: the proxy scores samples in that tail lower than the rest
    (Welch ``t``), at the tail size ``q`` where ``t`` peaks. Without one: the share of robust outliers
    (beyond median -/+ 3 scaled MADs) on that side, which marks a separate cluster of odd samples."""

    op: str
    param: str
    side: str
    t: float  # proxy-CLIP t statistic (0 when no proxy)
    q: float  # tail size (fraction of the pool) to screen
    tail_mean: float
    rest_mean: float
    outliers: float = 0.0  # robust-outlier share on this side

    @property
    def strong(self) -> bool:
        return self.t >= 2.0 or (self.t == 0.0 and self.outliers >= 0.01)

    @property
    def score(self) -> float:
        return self.t if self.t else 100 * self.outliers

    def why(self) -> str:
        if self.t:
            return (
                f"proxy-CLIP score {self.tail_mean:.3f} in its {self.side}-side tail ({self.q:.0%}) "
                f"vs {self.rest_mean:.3f} elsewhere (t={self.t:.1f})"
            )
        return f"{self.outliers:.1%} robust outliers on the {self.side} side"


@dataclass
class OpEntry:
    name: str
    op: Operator
    stats: Stats
    dims: list[QuantileDim] = field(default_factory=list)


def _round_outward(v: float, side: str, digits: int = 6) -> float:
    """``v`` to ``digits`` significant digits, rounded away from the kept side's interior: a min bound
    never rises above ``v`` and a max bound never falls below it, so q=0 / q=1 keep everything."""
    if not math.isfinite(v) or v == 0:
        return v
    r = float(f"{v:.{digits}g}")
    step = 10.0 ** (math.floor(math.log10(abs(v))) - digits + 1)
    if side == "min" and r > v:
        r = float(f"{r - step:.{digits}g}")
    elif side == "max" and r < v:
        r = float(f"{r + step:.{digits}g}")
    return r


def _param_is_int(op_name: str, param: str) -> bool:
    f = get_op_class(op_name).Params.model_fields[param]
    ann = f.annotation
    args = typing.get_args(ann)
    return ann is int or (int in args and float not in args)


class PoolSpace:
    """Candidate ops with default stat params and their cached stats on the pool."""

    def __init__(
        self,
        ds: Dataset,
        cache: StatsCache,
        ops: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        workers: int = 1,
        quiet: bool = False,
    ) -> None:
        self.ds = ds
        self.cache = cache
        self.workers = workers
        self.quiet = quiet
        names = [n for n in (ops or all_ops()) if get_op_class(n).kind != "mapper"]
        names = [n for n in names if n not in exclude and n not in DEFAULT_EXCLUDE]
        op_objs = [create_op(n) for n in names]
        stats = compute_pipeline_stats(op_objs, ds.samples, ds.fingerprint, cache, workers=workers, quiet=quiet)
        self.entries: dict[str, OpEntry] = {}
        for op, st in zip(op_objs, stats, strict=True):
            assert st is not None
            dims = default_search_space(op) if isinstance(op, Filter) else []
            self.entries[op.name] = OpEntry(op.name, op, st, dims)
        # Pure functions of the stats, asked for at every planning step: computed once.
        self._priors: list[Prior] | None = None
        self._sim_tail: TailFit | None = None
        self._side_tails: dict[tuple[str, str], float] = {}
        self._removed: dict[str, np.ndarray] = {}

    @property
    def n(self) -> int:
        return len(self.ds)

    @property
    def filter_names(self) -> list[str]:
        return [n for n, e in self.entries.items() if isinstance(e.op, Filter)]

    @property
    def dedup_names(self) -> list[str]:
        return [n for n, e in self.entries.items() if isinstance(e.op, Deduplicator)]

    # ------------------------------------------------------------------ quantiles
    def stat_for(self, op: str, param: str) -> tuple[Stat, str]:
        e = self.entries[op]
        for th in getattr(e.op, "thresholds", ()):
            if th.param == param:
                return e.stats[th.stat_key], th.side
        raise KeyError(f"{op} has no threshold param {param!r}")

    def quantile_value(self, op: str, param: str, q: float) -> float | int:
        st, side = self.stat_for(op, param)
        vals = st.finite_values()
        q = min(max(float(q), 0.0), 1.0)
        if len(vals) == 0:
            return 0
        v = float(np.quantile(vals, q))
        if _param_is_int(op, param):
            # Round outward so q=0 / q=1 keep everything.
            return int(math.floor(v)) if side == "min" else int(math.ceil(v))
        return _round_outward(v, side)

    def value_quantile(self, op: str, param: str, value: float) -> float:
        st, _ = self.stat_for(op, param)
        vals = st.finite_values()
        if len(vals) == 0:
            return 0.0
        return float(np.mean(vals < value))

    # ------------------------------------------------------------------ recipes
    def to_recipe(self, choices: Sequence[OpChoice]) -> Recipe:
        """Concrete recipe from op choices; filters keep their given order, dedups go last. A threshold not
        named is set to keep everything on its side (so a choice names only the bounds it means)."""
        specs: list[OpSpec] = []
        dedups: list[OpSpec] = []
        for ch in choices:
            cls = get_op_class(ch.op)
            params: dict = {p.name: p.value for p in ch.params}
            for qp in ch.quantiles:
                params[qp.name] = self.quantile_value(ch.op, qp.name, float(qp.value))
            if cls.kind == "filter":
                for th in cls.thresholds:  # type: ignore[attr-defined]
                    if th.param not in params:
                        params[th.param] = self.quantile_value(ch.op, th.param, 0.0 if th.side == "min" else 1.0)
            (dedups if cls.kind == "deduplicator" else specs).append(OpSpec(name=ch.op, params=params))
        extra: dict = {"project_name": "recipelab"}
        bands = [{"op": ch.op, **ch.band.model_dump(mode="json")} for ch in choices if ch.band is not None]
        for b in bands:
            self.stat_for(b["op"], b["param"])  # KeyError for a param the op does not have
        if bands:
            extra["rank_bands"] = bands
        r = Recipe(process=specs + dedups, extra=extra)
        r.validate_ops()
        return r

    def apply(self, recipe: Recipe) -> ApplyResult:
        ops = recipe.build_ops()
        stats = compute_pipeline_stats(
            ops, self.ds.samples, self.ds.fingerprint, self.cache, workers=self.workers, quiet=True
        )
        keep = None
        for b in recipe.extra.get("rank_bands") or []:
            band = RankBand(**{k: v for k, v in b.items() if k != "op"})
            mask = band.mask(self.stat_for(b["op"], b["param"])[0])
            keep = mask if keep is None else keep & mask
        return apply_ops(ops, stats, self.n, keep=keep)

    def removed(self, choices: Sequence[OpChoice]) -> np.ndarray:
        """Boolean mask of the samples the choices remove (cached by recipe fingerprint)."""
        recipe = self.to_recipe(choices)
        fp = recipe.fingerprint()
        if fp not in self._removed:
            self._removed[fp] = ~self.apply(recipe).kept
        return self._removed[fp]

    # ------------------------------------------------------------------ threshold sides
    def thresholds_of(self, op: str) -> list[tuple[str, str, str]]:
        """(param, stat key, side) of each threshold of a filter op (empty for a deduplicator)."""
        e = self.entries[op]
        return [(th.param, th.stat_key, th.side) for th in getattr(e.op, "thresholds", ())]

    def other_side(self, op: str, param: str) -> str | None:
        """The threshold param bounding the other side of the same stat (``min_len`` <-> ``max_len``)."""
        ths = self.thresholds_of(op)
        key, side = next(((k, s) for p, k, s in ths if p == param), (None, None))
        return next((p for p, k, s in ths if k == key and s != side), None)

    def side_of(self, op: str, param: str) -> str:
        return next(s for p, _, s in self.thresholds_of(op) if p == param)

    def side_tail(self, op: str, param: str) -> float:
        """Tail share to screen on a side with no training-free evidence: the share of values beyond
        median -/+ 2 robust sds on that side (where a stat's tail begins), clamped to ``PLAIN_TAIL_RANGE``."""
        key = (op, param)
        if key not in self._side_tails:
            st, side = self.stat_for(op, param)
            v = st.per_sample("min" if side == "min" else "max")
            v = v[np.isfinite(v)]
            share = 0.0
            if len(v):
                med = float(np.median(v))
                mad = 1.4826 * float(np.median(np.abs(v - med))) or float(np.std(v)) or 1e-12
                share = float(np.mean(v < med - 2 * mad) if side == "min" else np.mean(v > med + 2 * mad))
            lo, hi = PLAIN_TAIL_RANGE
            self._side_tails[key] = round(min(max(share, lo), hi), 4)
        return self._side_tails[key]

    # ------------------------------------------------------------------ priors
    def similarity(self) -> np.ndarray | None:
        e = self.entries.get(SIMILARITY_OP)
        if e is None:
            return None
        return e.stats["image_text_similarity"].per_sample("mean")

    def similarity_tail(self) -> TailFit | None:
        """Where the image-text similarity scores split off a low cluster (``mixture_tail``); None
        without the similarity op."""
        sim = self.similarity()
        if sim is None:
            return None
        if self._sim_tail is None:
            self._sim_tail = mixture_tail(sim)
        return self._sim_tail

    def priors(self) -> list[Prior]:
        """One prior per (filter op, threshold side), strongest first; only an ordering hint for which
        ops to probe first, never a substitute for measuring."""
        if self._priors is None:
            self._priors = self._compute_priors()
        return list(self._priors)

    def _compute_priors(self) -> list[Prior]:
        sim = self.similarity()
        out: list[Prior] = []
        for name, e in self.entries.items():
            if not isinstance(e.op, Filter) or name == SIMILARITY_OP:
                continue
            for th in e.op.thresholds:
                v = e.stats[th.stat_key].per_sample("min" if th.side == "min" else "max")
                fin = np.isfinite(v)
                if fin.sum() < 20:
                    continue
                vv = v[fin]
                med = float(np.median(vv))
                mad = 1.4826 * float(np.median(np.abs(vv - med)))
                if mad == 0:
                    mad = float(np.std(vv)) or 1e-12
                out_mask = vv < med - 3 * mad if th.side == "min" else vv > med + 3 * mad
                outliers = float(out_mask.mean())
                best = Prior(name, th.param, th.side, 0.0, float(min(max(outliers, 0.02), 0.3)), 0.0, 0.0, outliers)
                if sim is not None:
                    ok = fin & np.isfinite(sim)
                    vv2, ss = v[ok], sim[ok]
                    for q in TAIL_QS:
                        cut = np.quantile(vv2, q if th.side == "min" else 1 - q)
                        tail = vv2 < cut if th.side == "min" else vv2 > cut
                        if tail.sum() < 5 or (~tail).sum() < 5:
                            continue
                        a, b = ss[tail], ss[~tail]
                        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) or 1e-9
                        t = float((b.mean() - a.mean()) / se)
                        if t > best.t:
                            best = Prior(
                                name,
                                th.param,
                                th.side,
                                t,
                                float(tail.mean()),
                                float(a.mean()),
                                float(b.mean()),
                                outliers,
                            )
                out.append(best)
        return sorted(out, key=lambda p: -p.score)

    def describe_quantiles(self, qs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for e in self.entries.values():
            if not isinstance(e.op, Filter):
                continue
            for k, st in e.stats.items():
                v = st.finite_values()
                if len(v):
                    out[k] = {f"q{int(q * 100)}": float(x) for q, x in zip(qs, np.quantile(v, qs), strict=True)}
        return out


def quantile_choice(op: str, **qs: float) -> OpChoice:
    return OpChoice(op=op, quantiles=[ParamValue(name=k, value=float(v)) for k, v in qs.items()])
