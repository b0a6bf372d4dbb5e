"""What the report shows, gathered from the memory, the Optuna storage and the stats cache.

Plain data only (no HTML, no plots), so each piece can be tested and reused (e.g. by ``recipelab
logs``). Every loader tolerates a partial run: a run still going, one that failed before choosing a
recipe, or one whose pool file has moved since.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recipelab.agent import analysis
from recipelab.agent.state import SearchState, is_search_experiment, trial_of
from recipelab.memory import Memory
from recipelab.workspace import Workspace

#: Event kinds shown in the decisions timeline.
TIMELINE_KINDS = ("plan", "decision", "directive", "error")


def _ts(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        return _dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---------------------------------------------------------------------- progress
@dataclass
class ProgressPoint:
    index: int  # 1-based probe index in the order probes were recorded
    experiment: int
    purpose: str
    metric: float | None  # this probe's own metric (None: failed / not finished)
    t_s: float | None  # seconds since the run started, when the probe finished
    best_mean: float | None  # the best-so-far recipe (by lower confidence bound) after this probe
    best_lo: float | None
    best_hi: float | None
    best_label: str = ""


def progress(
    memory: Memory,
    run_id: str,
    experiments: Sequence[dict[str, Any]] | None = None,
    max_points: int = 200,
) -> list[ProgressPoint]:
    """Best-so-far after each search probe: the recipe the loop would choose at that point (best lower
    confidence bound), with its mean and 90% interval, plus the probe's own metric and its time.

    Time is the probe's ``finished_at`` minus the run's creation; where timestamps are missing it falls
    back to the cumulative ``wall_time_s`` of the probes so far. Re-ranking after every probe costs
    O(n^2); past ``max_points`` probes the best is re-ranked at ``max_points`` evenly spaced probes (and
    the last one) and carried in between."""
    run = memory.get_run(run_id) or {}
    exps = [e for e in (experiments if experiments is not None else memory.experiments(run_id))]
    exps = [e for e in exps if is_search_experiment(e)]
    t0 = _ts(run.get("created_at"))
    trials = [trial_of(e) for e in exps]
    n = len(trials)
    every = max(1, math.ceil(n / max(1, max_points)))
    out: list[ProgressPoint] = []
    cum_wall = 0.0
    best_mean = best_lo = best_hi = None
    best_label = ""
    pending = False  # a finished probe since the last ranking
    for k, (e, t) in enumerate(zip(exps, trials, strict=True), start=1):
        cum_wall += _finite(e.get("wall_time_s")) or 0.0
        fin = _ts(e.get("finished_at"))
        t_s = (fin - t0).total_seconds() if fin is not None and t0 is not None else cum_wall
        pending = pending or t.done
        if pending and (k % every == 0 or k == n):
            best = analysis.best_so_far(SearchState(run_id=run_id, budget_probes=n, trials=trials[:k]))
            if best is not None:
                c, lo, hi = best
                best_mean, best_lo, best_hi, best_label = c.mean, lo, hi, c.purpose
            pending = False
        out.append(ProgressPoint(k, e["id"], t.purpose, t.metric, t_s, best_mean, best_lo, best_hi, best_label))
    return out


# ---------------------------------------------------------------------- effects
@dataclass
class EffectRow:
    label: str
    mean: float
    lo: float
    hi: float
    n: int
    paired: bool


def effects(state: SearchState, prefix: str) -> list[EffectRow]:
    """Effects of single-op recipes with purposes ``<prefix><label>`` vs the baseline, largest first."""
    rows = [
        EffectRow(label, e.mean, e.lo, e.hi, e.n, e.paired)
        for label, e in analysis.op_effects(state, prefix=prefix).items()
        if all(math.isfinite(x) for x in (e.mean, e.lo, e.hi))
    ]
    return sorted(rows, key=lambda r: -r.mean)


# ---------------------------------------------------------------------- thresholds
@dataclass
class ThresholdPoint:
    quantile: float
    metric: float
    purpose: str
    experiment: int


def threshold_points(
    experiments: Sequence[dict[str, Any]], value_to_quantile: Any = None
) -> dict[str, list[ThresholdPoint]]:
    """``op.param`` -> the probes' metric against that threshold's quantile, from each experiment's
    ``spec.choices``. Thresholds given as values (not quantiles) are converted with
    ``value_to_quantile(op, param, value)`` when it is given and knows the op."""
    out: dict[str, list[ThresholdPoint]] = {}
    for e in experiments:
        if not is_search_experiment(e) or e.get("status") != "done":
            continue
        m = _finite(e.get("primary_value"))
        if m is None:
            continue
        for c in (e.get("spec") or {}).get("choices") or []:
            op = str(c.get("op", ""))
            for qp in c.get("quantiles") or []:
                q = _finite(qp.get("value"))
                if q is not None:
                    key = f"{op}.{qp.get('name')}"
                    out.setdefault(key, []).append(ThresholdPoint(q, m, e.get("purpose") or "", e["id"]))
            if value_to_quantile is None:
                continue
            for pv in c.get("params") or []:
                v = _finite(pv.get("value"))
                if v is None or isinstance(pv.get("value"), bool):
                    continue
                try:
                    q = value_to_quantile(op, str(pv.get("name")), v)
                except (KeyError, ValueError):
                    continue  # not a threshold param of a known op
                if q is not None:
                    key = f"{op}.{pv.get('name')}"
                    out.setdefault(key, []).append(ThresholdPoint(float(q), m, e.get("purpose") or "", e["id"]))
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------- LLM
@dataclass
class LLMTotals:
    calls: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    models: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def llm_totals(events: Sequence[dict[str, Any]]) -> LLMTotals:
    out = LLMTotals()
    for ev in events:
        if ev.get("kind") != "llm":
            continue
        p = ev.get("payload") if isinstance(ev.get("payload"), dict) else {}
        out.calls += 1
        out.events.append(ev)
        if p.get("error"):
            out.failed += 1
        out.input_tokens += int(_finite(p.get("input_tokens")) or 0)
        out.output_tokens += int(_finite(p.get("output_tokens")) or 0)
        out.cost_usd += _finite(p.get("cost_usd")) or 0.0
        model = p.get("model")
        if model and str(model) not in out.models:
            out.models.append(str(model))
    return out


# ---------------------------------------------------------------------- Optuna
def optuna_storage_url(ws: Workspace) -> str:
    """The run's Optuna storage URL as it may be shown: any password replaced by ``***``."""
    return redact_url(ws.optuna_storage)


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; other URLs unchanged. A report is shared
    and a terminal is logged: a database password belongs in neither."""
    try:
        from sqlalchemy.engine import make_url

        u = make_url(url)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL: nothing we know how to hide
        return url
    return url if u.password is None else u.render_as_string(hide_password=True)


def dashboard_command(ws: Workspace) -> str:
    """The shell command that opens the run's Optuna studies (quoted: a hidden password's ``***`` must not glob)."""
    import shlex

    return f"optuna-dashboard {shlex.quote(optuna_storage_url(ws))}"


@dataclass
class StudyInfo:
    name: str
    trials: int
    complete: int
    importances: dict[str, float]


def optuna_studies(ws: Workspace, run_id: str) -> list[StudyInfo]:
    """The run's Optuna studies (name ``<run_id>:...``) with their parameter importances (empty when
    there are too few distinct finished trials). Never creates the storage file."""
    if not ws.optuna_storage_exists:
        return []
    import optuna

    from recipelab.agent import optuna_search as osr

    url = optuna_storage_url(ws)
    try:
        names = [n for n in optuna.get_all_study_names(storage=url) if n.startswith(f"{run_id}:")]
    except Exception:  # noqa: BLE001 - a broken/foreign storage must not break the report
        return []
    out = []
    for n in names:
        try:
            st = optuna.load_study(study_name=n, storage=url)
        except KeyError:
            continue
        trials = st.get_trials(deepcopy=False)
        complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        out.append(StudyInfo(n, len(trials), complete, osr.importances(st)))
    return out


# ---------------------------------------------------------------------- pool distributions
@dataclass
class Bound:
    param: str
    side: str  # "min" | "max"
    value: float
    dropped: float  # share of the stat's values beyond the bound (below a min, above a max)
    cuts: bool  # False when the bound keeps every value on its side


@dataclass
class Distribution:
    op: str
    stat_key: str
    values: np.ndarray  # finite values on the pool (one per image for image ops)
    per: str  # "sample" or "element"
    bounds: list[Bound]
    removed: int | None = None


@dataclass
class PoolView:
    distributions: list[Distribution]
    note: str = ""  # why some or all distributions are missing
    space: Any = None  # the PoolSpace, for quantile <-> value conversions


def final_recipe_yaml(memory: Memory, run_id: str, summary: dict[str, Any]) -> str | None:
    """The final recipe as YAML: the whole recipe the run wrote (``best_recipe.recipelab.yaml``, or
    ``best_recipe.yaml`` for older runs) when it is still there, else the YAML recorded with the best
    recipe's experiments."""
    p = summary.get("best_recipe_full") or summary.get("best_recipe")
    if p:
        try:
            return Path(p).read_text(encoding="utf-8")
        except OSError:
            pass
    fp = (summary.get("best") or {}).get("recipe_fp")
    if fp:
        for e in memory.experiments(run_id):
            if e.get("recipe_fp") == fp and e.get("recipe_yaml"):
                return str(e["recipe_yaml"])
    return None


def pool_view(ws: Workspace, config: dict[str, Any], recipe_yaml: str | None) -> PoolView:
    """Histograms of each filter's stat on the pool with the final thresholds, from the stats cache.

    The pool is read again (its parse is cached) and stats come from the workspace cache, so this
    costs little; a pool file that is gone, or a recipe that no longer parses, yields a note instead."""
    from recipelab.agent.space import PoolSpace
    from recipelab.operators.base import Filter
    from recipelab.operators.stats import compute_pipeline_stats
    from recipelab.recipes import Recipe, RecipeError, apply_ops

    if not recipe_yaml:
        return PoolView([], "no final recipe yet")
    data = config.get("data")
    if not data:
        return PoolView([], "the run's configuration names no pool")
    if not Path(data).exists():
        return PoolView([], f"the pool file {data} is gone; distributions are skipped")
    try:
        recipe = Recipe.from_yaml(recipe_yaml, source="final recipe")
        ops = recipe.build_ops()
    except RecipeError as e:
        return PoolView([], f"the final recipe cannot be read: {e}")
    filters = [op.name for op in ops if isinstance(op, Filter)]
    try:
        ds = ws.read(data, on_error=config.get("on_error") or "skip", quiet=True)
        space = PoolSpace(ds, ws.stats_cache(), ops=filters or [], quiet=True) if filters else None
        stats = compute_pipeline_stats(ops, ds.samples, ds.fingerprint, ws.stats_cache(), quiet=True)
    except Exception as e:  # noqa: BLE001 - the report must survive an unreadable pool
        return PoolView([], f"the pool could not be read: {type(e).__name__}: {e}")
    applied = apply_ops(ops, stats, len(ds))
    removed = dict(applied.removed)
    out: list[Distribution] = []
    for op, st in zip(ops, stats, strict=True):
        if not isinstance(op, Filter) or st is None:
            continue
        by_key: dict[str, list[Bound]] = {}
        for th in op.thresholds:
            if th.stat_key not in st:
                continue
            vals = st[th.stat_key].finite_values()
            v = op.bound(th.param)
            if v is None or not math.isfinite(v) or len(vals) == 0:
                continue
            dropped = float(np.mean(vals < v)) if th.side == "min" else float(np.mean(vals > v))
            by_key.setdefault(th.stat_key, []).append(Bound(th.param, th.side, float(v), dropped, dropped > 0))
        for key, bounds in by_key.items():
            s = st[key]
            out.append(
                Distribution(
                    op.name,
                    key,
                    s.finite_values(),
                    "element" if s.ragged else "sample",
                    bounds,
                    removed.get(op.name),
                )
            )
    return PoolView(out, "", space)


# ---------------------------------------------------------------------- warm start and surrogate
@dataclass
class Reuse:
    """What a run took from earlier runs (warm start) and how well its surrogate predicted its probes."""

    warm: dict[str, Any] | None
    warm_message: str | None
    surrogate: dict[str, Any]


def reuse(memory: Memory, run_id: str, events: Sequence[dict[str, Any]]) -> Reuse:
    from recipelab.agent.surrogate import prediction_quality

    warm, msg = None, None
    for ev in events:
        p = (ev.get("payload") or {}).get("warm_start")
        if p:
            warm, msg = p, ev.get("message")
    return Reuse(warm, msg, prediction_quality(memory, run_id))


# ---------------------------------------------------------------------- fidelity ladder
@dataclass
class Fidelity:
    """A multi-fidelity run's ladder: what successive halving and the pruner decided, rung by rung, and
    each probe's score along its schedule (segments and full probes of one recipe and seed joined)."""

    rungs: list[int]
    decisions: list[dict[str, Any]]
    #: purpose -> [(step, score)], one line per probe that went up the ladder (seed index 0).
    curves: dict[str, list[tuple[int, float]]]
    segments: int
    compute_used: float


def fidelity(state: SearchState, events: Sequence[dict[str, Any]]) -> Fidelity:
    rungs: list[int] = []
    decisions = []
    for ev in events:
        p = ev.get("payload") or {}
        if p.get("fidelity_ladder"):
            rungs = [int(r) for r in p["fidelity_ladder"]]
        if p.get("fidelity"):
            decisions.append({"message": ev.get("message"), **p["fidelity"]})
    climbed = {t.purpose for t in state.segments if t.done}
    curves: dict[str, list[tuple[int, float]]] = {}
    for t in sorted(state.segments + state.trials, key=lambda t: t.end_step):
        if t.purpose in climbed and t.done and t.metric is not None and t.seed_index == 0:
            curves.setdefault(t.purpose, []).append((t.end_step, t.metric))
    return Fidelity(rungs, decisions, curves, len(state.segments), state.compute_used)


# ---------------------------------------------------------------------- transfer check
@dataclass
class TransferPoint:
    """One recipe of the transfer check: its probe-scale mean (90% CI) and its scale-up mean (seed sd)."""

    rank: int
    label: str
    probe_mean: float
    probe_lo: float
    probe_hi: float
    scale_mean: float
    scale_sd: float
    capped: bool


@dataclass
class Transfer:
    """The run's latest scale-up transfer check (``recipelab transfer``), or ``doc=None`` when none ran."""

    doc: dict[str, Any] | None
    message: str | None = None
    points: list[TransferPoint] = field(default_factory=list)
    #: (rank a, rank b, whether the scale-up kept their probe-scale order) of every pair measured.
    pairs: list[tuple[int, int, bool]] = field(default_factory=list)


def transfer(summary: dict[str, Any], events: Sequence[dict[str, Any]]) -> Transfer:
    """The check from the run's summary (key ``transfer``), else from its latest log event."""
    doc, msg = summary.get("transfer"), None
    for ev in events:
        p = (ev.get("payload") or {}).get("transfer")
        if isinstance(p, dict) and "recipes" in p:
            msg = ev.get("message")
            doc = doc or p
    if not doc:
        return Transfer(None)
    points = []
    for r in doc.get("recipes") or []:
        ci = r.get("probe_ci90") or [None, None]
        vals = [v for v in (_finite(x) for x in r.get("scale_values") or []) if v is not None]
        pm, sm = _finite(r.get("probe_mean")), _finite(r.get("scale_mean"))
        if pm is None or sm is None:
            continue
        points.append(
            TransferPoint(
                int(r["rank"]), str(r.get("label") or ""), pm, _finite(ci[0]) or pm, _finite(ci[1]) or pm, sm,
                float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, bool(r.get("capped")),
            )
        )  # fmt: skip
    pairs = [(int(p["a"]), int(p["b"]), p.get("agree", 0) >= 1) for p in doc.get("pairs") or []]
    return Transfer(doc, msg, points, pairs)
