"""The built-in statistical planner (default when no LLM is configured).

A budget-aware version of the Data-Juicer sandbox recipe search, which measures rather than assumes:

1. baseline: no filter, two seeds (the pool drawn at the probe's train size is also the random pool
   of equal size, so every effect is measured against it);
2. screen, one probe per unit, paired by seed with the baseline (purpose ``screen:<label>``):
   - single tails where training-free evidence points (the image-text similarity's low cluster, whose
     size ``PoolSpace.similarity_tail`` derives from the scores; then ``PoolSpace.priors``); a stat
     whose two sides both carry evidence is screened on both;
   - the best single tail, when it clearly helped, is line-searched: its tail 1.5x wider and narrower,
     then one more step past the better end (a tail sized by the evidence is where the evidence sees
     noise, not where the model stops gaining; a 1-D search is what a few probes can afford);
   - a hurt single tail is flipped once: the other side of the same stat is screened next;
   - every other tail, with or without evidence (deduplicators, stats with no outliers: both sides),
     in a few groups that each remove several tails at once (``group:<modality>``), so nothing in the
     candidate set stays unexplored for want of evidence;
   - when the evidence disagrees with the probes (most of its picks hurt), it is trusted less for the
     rest of the run: its remaining ops are screened on both sides like ops without evidence, and the
     plan rationale says so;
3. tune: Optuna TPE (one ``search`` proposal) on the thresholds of the best screen (its tails over a
   wide range, even when it is the lone winner), with every screen that was not clearly negative as a
   partner: on at its screened threshold when it helped, off (keep everything) but searchable when not;
4. the shared end game (``replicate.py``): replicate only candidates whose interval overlaps the
   leader's, up to a seed cap; when it has nothing to settle, the budget goes back to exploration
   (more search trials), and the search ends only when nothing is left to measure.

Every step either measures a recipe not measured yet or ends the search. Tertile pools, as Data-Juicer's
sandbox uses, cost 3 probes x seeds per op; with a few dozen probes that is too dear, so they are the
``dj-sandbox`` baseline strategy rather than this planner's screen.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from recipelab.agent.analysis import Effect, candidates, effect_vs_baseline, noise_sd
from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, SearchDim
from recipelab.agent.planners.base import replication_reserve
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import SIMILARITY_OP, PoolSpace
from recipelab.agent.state import SearchState, Trial
from recipelab.agent.warm_start import WARM
from recipelab.operators.base import Filter

BASELINE = "baseline"
SCREEN = "screen:"
GROUP = "group:"
SEARCH = "search"
#: A group screen removes at most this share of the pool (its tails shrink together to fit), so the
#: probe still trains on a draw of its full size from what is left.
GROUP_MAX_REMOVED = 0.3
#: An evidence item whose tail is mostly (this share) samples earlier items remove adds little as a
#: single screen; it goes to a group instead.
REDUNDANT_OVERLAP = 0.6
#: Largest tail a flip screens (it mirrors the size of the hurt tail).
FLIP_MAX_TAIL = 0.3
#: Most thresholds one search tunes (TPE with a few dozen trials learns little beyond this).
MAX_DIMS = 12
#: Widest tail the search tries for the winner's thresholds, and for its partners'.
WINNER_MAX_TAIL = 0.6
PARTNER_MAX_TAIL = 0.5
#: Line search on the clearly winning single tail: each step scales its tail by this factor (both ways
#: first, then one more step past the best end), at most ``LINE_MAX_STEPS`` probes, none below
#: ``LINE_MIN_TAIL``. Why: a tail sized by the evidence (the proxy's low cluster, a stat's outliers) is
#: where the evidence sees noise, not where the model stops gaining, and with few probes a 1-D search on
#: the one threshold that carries the gain beats a few TPE trials spread over many dimensions.
LINE_FACTOR = 1.5
LINE_MAX_STEPS = 3
LINE_MIN_TAIL = 0.01
LINE = "@"
#: Narrowest upper end of a threshold's range in the joint search that follows a first wave where no single
#: tail clearly helped (``spread_spec``). Why a quarter per side, as plain TPE: there no screen separated from
#: noise, so the evidence sizes nothing, and the gain such a search finds is a band around a stat's typical
#: values, which the data's own tail (beyond 2 robust sds: ~2-5% for a bell-shaped stat) cannot reach. At 0.1
#: the agent's `no-mismatch` finals kept 3.2k-4.1k of 10k rows where optuna's bands cut 10-25% per side. The
#: search switches each filter on or off, so a trial does not cut a quarter on every stat at once.
SPREAD_MIN_TAIL = 0.25


@dataclass(frozen=True)
class Tail:
    """One side of one op's stat, cut at a share ``q`` of the pool from that side's end; a deduplicator
    (no threshold) has ``param`` None."""

    op: str
    param: str | None = None
    side: str | None = None
    q: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.op}.{self.param}" if self.param else self.op

    @property
    def quantile(self) -> float:
        """The threshold's quantile: the tail share itself on the min side, 1 - share on the max side."""
        return round(self.q if self.side == "min" else 1.0 - self.q, 4)


@dataclass
class Unit:
    """A screening probe: one tail, or several tails at once (a group)."""

    label: str
    tails: list[Tail]
    why: str
    kind: str = "single"  # single | flip | group | line
    evidence: bool = False  # chosen by training-free evidence

    def choices(self) -> list[OpChoice]:
        return _choices(self.tails)


@dataclass
class Screened:
    """A measured screen: what it removed (parsed from the probed recipe) and its effect."""

    label: str
    tails: list[Tail]
    effect: Effect | None
    #: 1.0 for a full-length screen; less for one successive halving stopped at a lower rung (its effect is
    #: against the baseline's score at that same step, with no interval: a hint, never a winner).
    fidelity: float = 1.0

    @property
    def mean(self) -> float:
        return self.effect.mean if self.effect else float("nan")

    @property
    def clearly_negative(self) -> bool:
        return self.effect is not None and self.effect.hi < 0

    @property
    def hurt(self) -> bool:
        return self.effect is not None and self.effect.mean < 0


@dataclass
class View:
    """What the planner knows at one step, derived from the state and the space only."""

    state: SearchState
    space: PoolSpace
    screened: dict[str, Screened] = field(default_factory=dict)
    tried: set[str] = field(default_factory=set)  # screen labels with a probe (done, failed or running)
    probed: set[str] = field(default_factory=set)  # recipe fingerprints with a probe
    evidence: list[Unit] = field(default_factory=list)  # evidence singles, most promising first
    trust_low: bool = False
    trust_note: str = ""

    @property
    def banned(self) -> set[str]:
        return self.state.steering.banned


def _choices(tails: list[Tail]) -> list[OpChoice]:
    """One OpChoice per op (first appearance order), with a quantile for each of its tails."""
    by: dict[str, list[Tail]] = {}
    for t in tails:
        by.setdefault(t.op, []).append(t)
    out = []
    for op, ts in by.items():
        qs: dict[str, float] = {}
        for t in ts:
            if t.param and t.param not in qs:
                qs[t.param] = t.quantile
        out.append(OpChoice(op=op, quantiles=[ParamValue(name=k, value=v) for k, v in qs.items()]))
    return out


def _tails_of(choices: list[OpChoice], space: PoolSpace) -> list[Tail]:
    """The tails a probed recipe cut (quantile choices only; a deduplicator is one tail)."""
    out: list[Tail] = []
    for ch in choices:
        if ch.op not in space.entries:
            continue
        if not isinstance(space.entries[ch.op].op, Filter):
            out.append(Tail(ch.op))
            continue
        sides = {p: s for p, _, s in space.thresholds_of(ch.op)}
        for qp in ch.quantiles:
            side = sides.get(qp.name)
            if side is None:
                continue
            v = float(qp.value)
            q = v if side == "min" else 1.0 - v
            if q > 0:
                out.append(Tail(ch.op, qp.name, side, round(q, 4)))
    return out


class StatisticalPlanner:
    name = "stat"

    def __init__(self, max_screen: int | None = None) -> None:
        self.max_screen = max_screen

    # ------------------------------------------------------------------ propose
    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        if state.remaining <= 0:
            return Plan(rationale="probe budget spent", converged=True)

        # User-queued recipes come first.
        if state.steering.queued:
            props = [
                Proposal(kind="recipe", ops=q, purpose=f"user:{i}", hypothesis="queued by the user")
                for q, i in zip(state.steering.queued, state.steering.queued_ids, strict=True)
            ]
            return Plan(proposals=props, rationale="probe the recipes the user queued")

        # 1. baseline
        if not state.with_purpose(BASELINE):
            return Plan(
                proposals=[
                    Proposal(
                        kind="recipe",
                        ops=[],
                        seeds=2,
                        purpose=BASELINE,
                        hypothesis="how well the unfiltered pool trains, and how noisy probes are",
                    )
                ],
                rationale="measure the no-filter baseline on two seeds: every effect is relative to it",
            )

        # 1b. warm start: an earlier run's best recipes, re-measured here before anything else.
        warm = state.warm
        if warm is not None and warm.recipes and not state.with_purpose(WARM):
            props = [
                Proposal(
                    kind="recipe",
                    ops=r.choices,
                    purpose=f"{WARM}{k}",
                    hypothesis=(
                        f"run {r.source_run}'s recipe ({r.source_mean:.4f} there, {r.source_seeds} seed(s)) "
                        "helps here too"
                    ),
                )
                for k, r in enumerate(warm.recipes)
            ]
            return Plan(proposals=props, rationale=f"{warm.describe()}: re-measure them here (paired seed 0)")

        view = self.view(state, space)
        room = state.remaining - replication_reserve(state.budget_probes)
        if room > 0:
            plan = self._explore(view, room)
            if plan is not None:
                return plan
        # 4. the end game; when it has nothing to settle, what is left goes back to exploring.
        end = replication_plan(state)
        if end.proposals:
            return end
        plan = self._explore(view, state.remaining, late=True)
        if plan is not None:
            return plan.model_copy(
                update={"rationale": f"{end.rationale}; the rest of the budget goes to exploring: {plan.rationale}"}
            )
        return end

    # ------------------------------------------------------------------ what is known
    def view(self, state: SearchState, space: PoolSpace) -> View:
        v = View(state, space)
        v.probed = {t.recipe_fp for t in state.trials + state.segments}
        pooled = noise_sd(state)
        cands = {c.recipe_fp: c for c in candidates(state)}
        for t in state.with_purpose(SCREEN):
            label = t.purpose[len(SCREEN) :]
            v.tried.add(label)
            c = cands.get(t.recipe_fp)
            if c is None or label in v.screened:
                continue
            v.screened[label] = Screened(
                label, _tails_of(t.choices, space), effect_vs_baseline(state, c, pooled=pooled)
            )
        self._stopped_screens(v)
        for t in state.with_purpose(WARM):  # re-measured warm-start recipes: screens of their tails
            c = cands.get(t.recipe_fp)
            if c is not None and t.purpose not in v.screened:
                tails = _tails_of(t.choices, space)
                v.screened[t.purpose] = Screened(t.purpose, tails, effect_vs_baseline(state, c, pooled=pooled))
        v.evidence = self._evidence_units(v)
        if state.warm is not None and state.warm.effects:
            # An earlier run's screen effects order this run's screens: what helped there first, what
            # hurt there last (still screened when the budget reaches it: a hint, not a result).
            eff = state.warm.effects
            v.evidence.sort(
                key=lambda u: (0, -eff[u.label]) if eff.get(u.label, 0) > 0 else (2 if u.label in eff else 1, 0)
            )
        self._judge_evidence(v)
        return v

    @staticmethod
    def _stopped_screens(v: View) -> None:
        """Screens that successive halving stopped below full length: tried, with their effect against the
        baseline's curve at the same step and the same seed (equal fidelity), and no interval, so they are
        neither clear winners nor clearly negative; a stopped screen that fell below the baseline is hurt."""
        from recipelab.agent.analysis import baseline

        base = baseline(v.state)
        curve = {t.seed_index: t.curve for t in base.trials if t.done} if base else {}
        best: dict[str, Trial] = {}
        for t in v.state.segments:
            if not t.purpose.startswith(SCREEN) or not t.done:
                continue
            label = t.purpose[len(SCREEN) :]
            v.tried.add(label)
            if label not in v.screened and (label not in best or t.end_step > best[label].end_step):
                best[label] = t
        for label, t in best.items():
            ref = curve.get(t.seed_index, {}).get(t.end_step)
            if ref is None or t.metric is None:
                continue
            eff = Effect(label, t.recipe_fp, t.metric - ref, -math.inf, math.inf, 1, True)
            v.screened[label] = Screened(label, _tails_of(t.choices, v.space), eff, t.fidelity)

    def _evidence_units(self, v: View) -> list[Unit]:
        """Single tails that training-free evidence points at, most promising first (pinned ops first)."""
        space, state = v.space, v.state
        units: list[Unit] = []
        sim = space.similarity_tail()
        if sim is not None and SIMILARITY_OP not in v.banned:
            q = sim.q if sim.separated else space.side_tail(SIMILARITY_OP, "min_score")
            units.append(
                Unit(
                    f"{SIMILARITY_OP}.min_score",
                    [self._tail(SIMILARITY_OP, "min_score", "min", q, state)],
                    sim.why() + ("" if sim.separated else f"; screen a plain {q:.0%} tail"),
                    evidence=sim.separated,
                )
            )
        priors = [p for p in space.priors() if p.strong and p.op not in v.banned]
        by_stat: dict[tuple[str, str], list] = {}
        for p in priors:
            key = next(k for pa, k, _ in space.thresholds_of(p.op) if pa == p.param)
            by_stat.setdefault((p.op, key), []).append(p)
        filt: list[Unit] = []
        for p in priors:
            key = next(k for pa, k, _ in space.thresholds_of(p.op) if pa == p.param)
            pair = by_stat[(p.op, key)]
            best = max(pair, key=lambda x: x.score)
            ambiguous = len(pair) == 2 and min(x.score for x in pair) >= 0.5 * best.score
            if p is not best and not ambiguous:
                continue  # the weaker side of a one-sided stat: reached by a flip if the stronger side hurts
            why = p.why() + (" (both sides of this stat carry evidence)" if ambiguous else "")
            filt.append(Unit(f"{p.op}.{p.param}", [self._tail(p.op, p.param, p.side, p.q, state)], why, evidence=True))
        dedups = []
        for name in space.dedup_names:
            if name in v.banned:
                continue
            e = space.entries[name]
            labels = e.stats[e.op.hash_key].values  # type: ignore[attr-defined]
            dup = 1 - len(np.unique(labels)) / max(len(labels), 1)
            if dup > 0.01:
                dedups.append(Unit(name, [Tail(name)], f"{dup:.1%} of the pool are duplicates", evidence=True))
        units += filt[:2] + dedups + filt[2:]
        pinned = state.steering.pinned
        for op in sorted(pinned):
            if op in v.banned or op not in space.entries or any(u.tails[0].op == op for u in units):
                continue
            t = self._plain_tails(op, space, state)[0]
            units.append(Unit(t.key, [t], "pinned by the user"))
        units.sort(key=lambda u: u.tails[0].op not in pinned)  # stable: pinned first, then evidence order
        # Redundancy: a tail mostly removed by the items before it adds little as its own screen.
        union = np.zeros(space.n, dtype=bool)
        fresh = []
        for u in units:
            removed = space.removed(u.choices())
            k = int(removed.sum())
            overlap = float((removed & union).sum()) / max(k, 1)
            if k == 0 or (overlap > REDUNDANT_OVERLAP and u.tails[0].op not in pinned):
                continue  # covered by a group screen instead
            union |= removed
            fresh.append(u)
        return fresh

    @staticmethod
    def _judge_evidence(v: View) -> None:
        """Trust in the evidence: low once most filter screens it chose hurt (or the only one clearly did).
        Deduplicators are left out: that duplicates exist says nothing about whether removing them helps."""
        rank = {u.label: i for i, u in enumerate(v.evidence) if u.evidence and u.tails[0].param}
        judged = sorted((s for s in v.screened.values() if s.label in rank and s.effect), key=lambda s: rank[s.label])
        if not judged:
            return
        hurt = [s for s in judged if s.hurt]
        if (len(judged) >= 2 and len(hurt) > len(judged) / 2) or (len(judged) == 1 and judged[0].clearly_negative):
            v.trust_low = True
            v.trust_note = (
                f"training-free evidence disagrees with the probes: {len(hurt)} of the {len(judged)} screens it "
                f"ranked first hurt ({', '.join(f'{s.label} {s.mean:+.3f}' for s in hurt)}); trusting it less for "
                "the rest of the run (its other ops are screened on both sides, like ops without evidence)"
            )

    # ------------------------------------------------------------------ tails
    @staticmethod
    def _tail(op: str, param: str, side: str, q: float, state: SearchState) -> Tail:
        """A tail, clamped to the range the user allowed for that threshold."""
        lo, hi = state.steering.ranges.get((op, param), (0.0, 1.0))
        quant = min(max(q if side == "min" else 1.0 - q, lo), hi)
        return Tail(op, param, side, round(quant if side == "min" else 1.0 - quant, 4))

    def _plain_tails(self, op: str, space: PoolSpace, state: SearchState) -> list[Tail]:
        """Both sides of every stat of an op, each at its plain data tail (no evidence used)."""
        if not isinstance(space.entries[op].op, Filter):
            return [Tail(op)]
        return [self._tail(op, p, s, space.side_tail(op, p), state) for p, _, s in space.thresholds_of(op)]

    # ------------------------------------------------------------------ screening
    def screen_budget(self, state: SearchState) -> int:
        """Screening probes (singles, flips, groups) before the search: what is left of the exploration
        budget after the baseline, the user's recipes and the end game's reserve, less about a third for
        the search (at least 2 trials)."""
        if self.max_screen:
            return self.max_screen
        fixed = len(state.with_purpose(BASELINE)) + len(state.with_purpose("user:"))
        explore = state.budget_probes - replication_reserve(state.budget_probes) - fixed
        return max(1, explore - max(2, round(0.3 * explore)))

    def screen_list(self, v: View) -> list[Unit]:
        """Screens still to run, in order: a first wave of evidence singles (about half the screening
        budget, so the rest can follow their results); then flips of hurt single tails, groups covering
        every tail nothing has screened yet, and further evidence singles where the budget allows (none
        once the evidence is distrusted: its ops go to the groups, on both sides)."""
        A = self.screen_budget(v.state)
        unit = v.state.unit_cost
        if unit < 1.0:  # screens go up a fidelity ladder: count what they cost, not how many
            spent = sum(t.cost for t in v.state.trials + v.state.segments if t.purpose.startswith(SCREEN))
            A = math.floor(A / unit)
            left = math.floor((self.screen_budget(v.state) - spent) / unit + 1e-9)
        else:
            left = A - len(v.tried)
        if left <= 0:
            return []
        singles = [u for u in v.evidence if u.label not in v.tried]
        if not v.tried and singles:
            return singles[: max(1, math.ceil(A / 2))]
        line = self.line_units(v)
        if line:
            return line[:left]
        if self.spread(v):
            return []  # no single tail carries the gain: the rest of the screening budget goes to the search
        flips = self._flips(v)
        left2 = max(0, left - len(flips))
        rest = [] if v.trust_low else singles
        natural = len(self._groups(v, 3, exclude=set()))
        k = min(len(rest), max(0, left2 - min(natural, left2)))
        groups = self._groups(v, max(1, left2 - k), exclude={t.op for u in rest[:k] for t in u.tails})
        todo = flips + groups + rest[:k]
        return [u for u in todo if u.label not in v.tried][:left]

    def line_units(self, v: View) -> list[Unit]:
        """The next line-search step on the best single tail, when its screen clearly helped: its tail
        scaled by ``LINE_FACTOR`` both ways, then one step further past the best end while it keeps
        gaining. Empty when no single clearly helped, the steps are spent, or the next step repeats a
        measured recipe."""
        best: Screened | None = None
        for s in v.screened.values():
            if len(s.tails) != 1 or s.tails[0].param is None or s.label.startswith(GROUP) or s.effect is None:
                continue
            if s.effect.lo > 0 and (best is None or s.mean > best.mean):
                best = s
        if best is None:
            return []
        t0 = best.tails[0]
        if t0.op in v.banned:
            return []
        base = f"{t0.op}.{t0.param}"
        # Full-length points only (a point that successive halving stopped lost to the others at its rung:
        # it is tried, never compared with full-length means).
        points = {
            s.tails[0].q: s.mean
            for s in v.screened.values()
            if len(s.tails) == 1
            and s.tails[0].key == t0.key
            and s.tails[0].side == t0.side
            and s.effect
            and s.fidelity >= 1.0
        }
        steps = [label for label in v.tried if label.startswith(base + LINE)]
        if len(steps) >= LINE_MAX_STEPS or any(label not in v.screened for label in steps):
            return []  # spent, or a step still running / failed (its result decides the next one)
        q_best = max(points, key=lambda q: points[q])
        if not steps:
            qs = [q_best * LINE_FACTOR, q_best / LINE_FACTOR]
            why = f"{base} clearly helped ({best.mean:+.3f} at a {q_best:.0%} tail): is a wider or narrower tail better"
        elif q_best == max(points) and len(points) > 1:
            qs = [q_best * LINE_FACTOR]
            why = f"the widest tail measured ({q_best:.0%}) is the best so far ({points[q_best]:+.3f}): one step wider"
        elif q_best == min(points) and len(points) > 1:
            qs = [q_best / LINE_FACTOR]
            why = f"the narrowest tail tried ({q_best:.0%}) is best so far ({points[q_best]:+.3f}): one step narrower"
        else:
            return []  # the best lies inside the measured range: the search refines it
        out = []
        for q in qs:
            q = round(min(q, WINNER_MAX_TAIL), 4)
            if q < LINE_MIN_TAIL or any(abs(q - p) < 0.005 for p in points):
                continue
            u = Unit(f"{base}{LINE}{q:.3f}", [self._tail(t0.op, t0.param, t0.side, q, v.state)], why, kind="line")
            if u.label not in v.tried and self._new(u, v):
                out.append(u)
        return out

    def _flips(self, v: View) -> list[Unit]:
        """The other side of each single tail whose screen hurt, once."""
        out = []
        prior = {(p.op, p.param): p for p in v.space.priors() if p.strong}
        for s in v.screened.values():
            if not s.hurt or len(s.tails) != 1 or s.tails[0].param is None or s.label.startswith(GROUP):
                continue
            if LINE in s.label or s.label.startswith(WARM):
                continue
            t = s.tails[0]
            if t.op in v.banned:
                continue
            other = v.space.other_side(t.op, t.param)
            if other is None or f"{t.op}.{other}" in v.tried:
                continue
            # The tail size mirrors the hurt one (the evidence saw a cluster of that size, perhaps at the
            # wrong end), at least the other side's own evidence or plain tail.
            p = prior.get((t.op, other))
            own = p.q if p is not None and not v.trust_low else v.space.side_tail(t.op, other)
            q = min(max(own, t.q), FLIP_MAX_TAIL)
            side = v.space.side_of(t.op, other)
            out.append(
                Unit(
                    f"{t.op}.{other}",
                    [self._tail(t.op, other, side, q, v.state)],
                    f"its {t.side}-side tail hurt ({s.mean:+.3f}): try the {side} side once ({q:.0%} tail)",
                    kind="flip",
                )
            )
        return out

    def _groups(self, v: View, n_groups: int, exclude: set[str]) -> list[Unit]:
        """Groups of the tails no screen covers yet: one per modality (deduplicators apart), merged when
        fewer probes are left. An op with evidence contributes its evidence side (both sides once the
        evidence is distrusted); one without, both sides at its plain data tail."""
        space, state = v.space, v.state
        covered = {t.op for s in v.screened.values() for t in s.tails} | exclude
        covered |= {label.split(".")[0] for label in v.tried if not label.startswith(GROUP)}
        strong: dict[str, list] = {}
        for p in space.priors():
            if p.strong:
                strong.setdefault(p.op, []).append(p)
        buckets: dict[str, list[Tail]] = {}
        for name, e in space.entries.items():
            if name in covered or name in v.banned:
                continue
            if isinstance(e.op, Filter):
                ps = strong.get(name, [])
                if ps and not v.trust_low and name != SIMILARITY_OP:
                    best = max(ps, key=lambda p: p.score)
                    tails = [self._tail(name, best.param, best.side, best.q, state)]
                else:
                    tails = self._plain_tails(name, space, state)
                bucket = "image" if e.op.modality in ("image", "image_text") else "text"
            else:
                tails, bucket = [Tail(name)], "dedup"
            buckets.setdefault(bucket, []).extend(tails)
        names = [b for b in ("image", "text", "dedup") if buckets.get(b)]
        while len(names) > n_groups:  # fewer probes left than groups: merge the smallest into the last
            small = min(names, key=lambda b: len(buckets[b]))
            names.remove(small)
            buckets[names[-1]] = buckets[names[-1]] + buckets.pop(small)
        out = []
        for b in names:
            tails = self._fit_group(buckets[b], space)
            if not tails:
                continue
            ops = sorted({t.op for t in tails})
            label = f"{GROUP}{b}" if len(names) > 1 else f"{GROUP}all"
            why = f"{len(tails)} tail(s) of {len(ops)} op(s) no screen has covered ({', '.join(ops)})"
            out.append(Unit(label, tails, why, kind="group"))
        return out

    @staticmethod
    def _fit_group(tails: list[Tail], space: PoolSpace) -> list[Tail]:
        """Shrink a group's tails together until it removes at most ``GROUP_MAX_REMOVED`` of the pool."""
        scale = 1.0
        for _ in range(8):
            ts = [dataclasses.replace(t, q=round(t.q * scale, 4)) if t.param else t for t in tails]
            ts = [t for t in ts if t.param is None or t.q > 0]
            if not ts:
                return []
            if float(space.removed(_choices(ts)).mean()) <= GROUP_MAX_REMOVED:
                return ts
            scale *= 0.7
        return ts

    def _screen_plan(self, v: View, units: list[Unit]) -> Plan:
        props = [
            Proposal(
                kind="recipe",
                ops=u.choices(),
                purpose=f"{SCREEN}{u.label}",
                hypothesis=f"removing {'these tails' if u.kind == 'group' else 'this tail'} helps: {u.why}",
            )
            for u in units
        ]
        kinds = {"single": "single tail", "flip": "other side", "group": "group", "line": "line search"}
        why = "; ".join(f"{u.label} [{kinds[u.kind]}]: {u.why}" for u in units)
        head = f"screen {len(units)} unit(s) against the baseline (paired seed 0): {why}"
        if v.state.warm is not None and v.state.warm.effects and any(u.label in v.state.warm.effects for u in units):
            head += f" (ordered by run {v.state.warm.source_run}'s screen effects)"
        return Plan(proposals=props, rationale=(f"{v.trust_note}; " if v.trust_note else "") + head)

    # ------------------------------------------------------------------ explore
    def _explore(self, v: View, room: int, late: bool = False) -> Plan | None:
        """A plan that measures something new within ``room`` probes, or None when nothing is left."""
        state = v.state
        searched = state.with_purpose(f"{SEARCH}:")
        todo = [] if searched else [u for u in self.screen_list(v) if self._new(u, v)]
        spec = self.search_spec(v) if not todo or late else None
        if late and spec is not None and searched:
            return self._search_plan(v, spec, room, more=True)
        fit = max(1, math.floor(room / state.unit_cost + 1e-9)) if room > 0 else 0
        if todo:
            return self._screen_plan(v, todo[:fit])
        if spec is not None:
            return self._search_plan(v, spec, room, more=bool(searched))
        if not searched:
            # Nothing to tune (every screen clearly hurt): keep exploring what no screen has covered.
            extra = [u for u in v.evidence + self._flips(v) if u.label not in v.tried and self._new(u, v)]
            if not extra:
                extra = [u for u in self._groups(v, 2, exclude=set()) if u.label not in v.tried and self._new(u, v)]
            if extra:
                return self._screen_plan(v, extra[:fit])
        return None

    @staticmethod
    def _new(u: Unit, v: View) -> bool:
        """A screen whose recipe is not measured yet (ties can make two tails the same recipe)."""
        if not u.tails:
            return False
        return v.space.to_recipe(u.choices()).fingerprint() not in v.probed

    # ------------------------------------------------------------------ search
    def search_spec(self, v: View) -> tuple[Proposal, str] | None:
        """The tuning search and why: the best screen's tails over a wide range (even a lone winner), with
        every screen not clearly negative as a partner. Its first trial is the combination of them all at
        their screened thresholds; partners that helped are searched up to twice their tail, the others
        down to nothing and up to their tail (or 10%). Fixed once it starts: built from the state before its
        first trial, so a resumed or extended search asks the same study the same questions. None when
        every screen clearly hurt."""
        state = v.state
        searched = state.with_purpose(f"{SEARCH}:")
        if searched:
            first = min(t.id for t in searched)
            pre = dataclasses.replace(state, trials=[t for t in state.trials if t.id < first])
            v = self.view(pre, v.space)
        if self.spread(v):
            return self.spread_spec(v)
        units = []
        for s in v.screened.values():
            tails = [t for t in s.tails if t.op not in v.banned]
            if tails and s.effect is not None:
                units.append(dataclasses.replace(s, tails=tails))
        pinned = v.state.steering.pinned
        ok = [s for s in units if not s.clearly_negative or any(t.op in pinned for t in s.tails)]
        if not ok:
            return None
        ok.sort(key=lambda s: (s.fidelity < 1.0, -s.mean))  # full-length screens first: only they can win
        winner = ok[0]
        # Other points of the winner's own line search tune nothing new (same thresholds): not partners.
        own = {t.key for t in winner.tails}
        partners = [s for s in ok[1:] if not {t.key for t in s.tails} <= own]
        # No more thresholds than trials (a few trials of TPE are a random search around the start): the
        # winner's come first, then the partners that helped, then those that did not.
        room = v.state.remaining - replication_reserve(v.state.budget_probes)
        max_dims = min(MAX_DIMS, max(3, room if room > 0 else v.state.remaining))
        start: list[Tail] = []
        dims: list[SearchDim] = []
        seen: set[str] = set()

        def add(t: Tail, helped: bool, widen: float, max_tail: float, must: bool = False) -> None:
            if t.key in seen:
                return
            seen.add(t.key)
            if t.param is None:  # a deduplicator has nothing to tune: in the combination
                start.append(t)
                return
            if len(dims) >= (MAX_DIMS if must else max_dims):
                if helped:
                    start.append(t)  # no room to tune it: in at its screened threshold
                return
            hi = min(max_tail, max(widen * t.q, 0.1 * widen))
            lo_q, hi_q = (0.0, hi) if t.side == "min" else (1.0 - hi, 1.0)
            ulo, uhi = v.state.steering.ranges.get((t.op, t.param), (0.0, 1.0))
            lo_q, hi_q = max(lo_q, ulo), min(hi_q, uhi)
            if hi_q <= lo_q:
                return
            start.append(t)
            dims.append(SearchDim(op=t.op, param=t.param, low_q=round(lo_q, 4), high_q=round(hi_q, 4)))

        for t in winner.tails:
            add(t, True, 3.0, WINNER_MAX_TAIL, must=True)
        partners.sort(key=lambda s: (not (s.mean > 0 or any(t.op in pinned for t in s.tails)), -s.mean))
        for s in partners:
            on = s.mean > 0 or any(t.op in pinned for t in s.tails)
            for t in s.tails:
                add(t, on, 2.0 if on else 1.0, PARTNER_MAX_TAIL)
        if not dims:
            return None
        ops = _choices(start)
        in_search = {(t.op, t.param) for t in start}
        on = [s.label for s in partners if s.mean > 0 and any((t.op, t.param) in in_search for t in s.tails)]
        off = [s.label for s in partners if s.mean <= 0 and any((t.op, t.param) in in_search for t in s.tails)]
        crowded = [s.label for s in partners if s.label not in on and s.label not in off]
        dropped = [s.label for s in units if s not in ok]
        lone = not partners
        hyp = (
            f"a better threshold for {winner.label} exists than the screened one"
            if lone
            else f"{winner.label} tuned, with the other screens that did not clearly hurt, beats it alone"
        )
        if winner.mean <= 0:
            role = ", the least bad: no screen helped"
        elif not on:
            role = ", the lone winner: no other screen helped"
        else:
            role = ", the best screen"
        n_win = len([d for d in dims if d.op in {t.op for t in winner.tails}])
        what = f"over a wide range of its {n_win} threshold(s)" if n_win else "(no threshold of its own to tune)"
        why = (
            f"tune {winner.label} ({winner.mean:+.3f}{role}) {what}"
            + (f"; combined with the screens that helped: {', '.join(on)}" if on else "")
            + (
                f"; and with those that did not clearly hurt (searchable down to nothing): {', '.join(off)}"
                if off
                else ""
            )
            + (f"; left out (clearly negative): {', '.join(dropped)}" if dropped else "")
            + (f"; left out (no room for more thresholds than {max_dims}): {', '.join(crowded)}" if crowded else "")
        )
        return Proposal(kind="search", ops=ops, search=dims, purpose=SEARCH, hypothesis=hyp), why

    @staticmethod
    def spread(v: View) -> bool:
        """True when the first wave of evidence singles is measured, none of them clearly helped or hurt, and nothing
        else has been screened yet. Why: where noise is spread thin over many families (each op removes a few
        percent of bad rows), no one-seed single screen separates from noise, and flips and further singles
        would spend the budget on more of the same. The gain then lies in cutting many stats at once, which is
        what a joint search over them measures. Decided once, from the first wave: a run where a single clearly
        helped (line search, flips, groups) never switches to it later."""
        if not v.screened or any(label.startswith(GROUP) or LINE in label for label in v.tried):
            return False
        if not v.tried <= {u.label for u in v.evidence}:
            return False  # a flip or a later single was screened: the usual path is under way
        singles = [s for s in v.screened.values() if s.effect is not None and s.fidelity >= 1.0]
        # A clearly hurt filter tail is news too (the evidence may point at the wrong end): its flip is worth a
        # probe. A deduplicator that hurt has no other side: the search leaves it out.
        flippable = [s for s in singles if any(v.space.other_side(t.op, t.param) for t in s.tails if t.param)]
        return (
            bool(singles)
            and not any(s.effect.lo > 0 for s in singles if s.effect is not None)
            and not any(s.clearly_negative for s in flippable)
        )

    def spread_spec(self, v: View) -> tuple[Proposal, str] | None:
        """The joint search when no single tail carries the gain: both sides of every allowed filter's stats
        (two-sided bands, which one-sided screens never measure), each from keeping everything up to about
        twice the tail that the screen, the evidence or the data's own tail suggests (``SPREAD_MIN_TAIL`` to
        ``PARTNER_MAX_TAIL``). Sides whose single screen clearly hurt stay off. Its first trial is the
        combination of every screen that helped by its mean (deduplicators among them stay on; the others
        off), so TPE starts from what the screens saw, not from scratch."""
        space, state = v.space, v.state
        pinned = state.steering.pinned
        hurt: set[tuple[str, str | None]] = set()
        on: dict[tuple[str, str | None], Tail] = {}
        helped: list[str] = []
        for s in v.screened.values():
            if s.effect is None or s.fidelity < 1.0:
                continue
            if s.clearly_negative and len(s.tails) == 1:
                hurt |= {(t.op, t.param) for t in s.tails if t.op not in pinned}
            elif s.mean > 0 or any(t.op in pinned for t in s.tails):
                helped.append(s.label)
                for t in s.tails:
                    if t.op not in v.banned:
                        on[(t.op, t.param)] = t
        prior = {(p.op, p.param): p.q for p in space.priors() if p.strong}
        ops: list[OpChoice] = []
        dims: list[SearchDim] = []
        for name in space.filter_names:
            if name in v.banned:
                continue
            qs: list[ParamValue] = []
            for param, _, side in space.thresholds_of(name):
                t = on.get((name, param))
                q0 = t.q if t is not None else 0.0
                qs.append(ParamValue(name=param, value=round(q0 if side == "min" else 1.0 - q0, 4)))
                if (name, param) in hurt:
                    continue
                ref = q0 or prior.get((name, param)) or space.side_tail(name, param)
                hi = min(PARTNER_MAX_TAIL, max(2.0 * ref, SPREAD_MIN_TAIL))
                lo_q, hi_q = (0.0, hi) if side == "min" else (1.0 - hi, 1.0)
                ulo, uhi = state.steering.ranges.get((name, param), (0.0, 1.0))
                lo_q, hi_q = max(lo_q, ulo), min(hi_q, uhi)
                if hi_q > lo_q:
                    dims.append(SearchDim(op=name, param=param, low_q=round(lo_q, 4), high_q=round(hi_q, 4)))
            ops.append(OpChoice(op=name, quantiles=qs))
        ops += [OpChoice(op=n) for n in space.dedup_names if (n, None) in on]
        if not dims:
            return None
        # Every filter is a switch (as in plain TPE): with up to a quarter cut per side on all of them at once,
        # a trial would keep almost nothing; switched, TPE learns which stats are worth a band. The first trial
        # switches on exactly what the screens that helped cut (and the deduplicators that helped).
        searched = sorted({d.op for d in dims})
        start_on = sorted({o for o, _ in on})
        n_ops = len(searched)
        why = (
            f"no single screen clearly helped ({len(v.screened)} screened, none with an interval above 0): the "
            f"gain, if any, is spread over many ops, so the rest of the exploration budget tunes {len(dims)} "
            f"thresholds of {n_ops} filters jointly, both sides of each stat (bands), each filter on or off, "
            "starting from the screens "
            f"that helped by their mean ({', '.join(helped) if helped else 'none: from no filter'})"
            + (
                f"; left out (their screen clearly hurt): {', '.join(sorted(f'{o}.{p}' for o, p in hurt))}"
                if hurt
                else ""
            )
        )
        hyp = "cutting many stats at once, each a little, beats any single cut"
        prop = Proposal(
            kind="search",
            ops=ops,
            search=dims,
            toggle_ops=searched,
            start_on=start_on,
            purpose=SEARCH,
            hypothesis=hyp,
        )
        return prop, why

    def _search_plan(self, v: View, spec: tuple[Proposal, str], room: int, more: bool) -> Plan:
        prop, why = spec
        prop = prop.model_copy(update={"n_trials": max(1, min(room, 200))})
        head = f"{'continue' if more else 'start'} the TPE search for {prop.n_trials} trial(s): {why}"
        return Plan(proposals=[prop], rationale=(f"{v.trust_note}; " if v.trust_note else "") + head)
