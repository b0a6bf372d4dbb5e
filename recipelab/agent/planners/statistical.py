"""The built-in statistical planner (default when no LLM is configured).

Budget-aware version of the Data-Juicer sandbox recipe search:
1. baseline: no filter, two seeds (the pool drawn at the probe's train size is also the random pool
   of equal size, so every effect is measured against it);
2. screen: single-op recipes, each removing the tail where training-free evidence (the proxy CLIP's
   scores, ``PoolSpace.priors``) says bad samples sit, in order of that evidence, paired by seed with
   the baseline; when the budget allows, the ops with no prior too;
3. combine the ops whose effect is positive (an op whose interval is clearly below zero is dropped);
4. Optuna TPE on the combined ops' thresholds in quantile space, seeded (``enqueue_trial``) with the
   combination's own thresholds;
5. replicate the contenders and choose by lower confidence bound (``replicate.py``).

Tertile pools, as Data-Juicer's sandbox uses, cost 3 probes x seeds per op; with a few dozen probes
that is too dear, so they are the ``dj-sandbox`` baseline strategy rather than this planner's screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from recipelab.agent.analysis import op_effects
from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, SearchDim
from recipelab.agent.planners.base import replication_reserve
from recipelab.agent.planners.replicate import replication_plan
from recipelab.agent.space import SIMILARITY_OP, PoolSpace
from recipelab.agent.state import SearchState

BASELINE = "baseline"
SIM_TAIL_Q = 0.2  # screening threshold for the proxy-CLIP similarity: drop the lowest-scoring 20%


@dataclass
class ScreenItem:
    op: str
    choice: OpChoice
    why: str


class StatisticalPlanner:
    name = "stat"

    def __init__(self, max_screen: int | None = None) -> None:
        self.max_screen = max_screen

    # ------------------------------------------------------------------ screening list
    def screen_items(self, state: SearchState, space: PoolSpace) -> list[ScreenItem]:
        """Ops to screen, most promising first. Banned ops are left out; pinned ones go first."""
        items: list[ScreenItem] = []
        seen: set[str] = set()
        banned = state.steering.banned
        if SIMILARITY_OP in space.entries and SIMILARITY_OP not in banned:
            items.append(
                ScreenItem(
                    SIMILARITY_OP,
                    self._choice(SIMILARITY_OP, "min_score", SIM_TAIL_Q, state),
                    "image-text mismatch is the costliest noise for contrastive training",
                )
            )
            seen.add(SIMILARITY_OP)
        for p in space.priors():
            if p.op in seen or p.op in banned or p.t < 2.0:
                continue
            q = p.q if p.side == "min" else 1 - p.q
            items.append(
                ScreenItem(
                    p.op,
                    self._choice(p.op, p.param, q, state),
                    f"proxy-CLIP score {p.tail_mean:.3f} in its {p.side}-side tail ({p.q:.0%}) "
                    f"vs {p.rest_mean:.3f} elsewhere (t={p.t:.1f})",
                )
            )
            seen.add(p.op)
        for name in space.dedup_names:
            if name in banned or name in seen:
                continue
            labels = space.entries[name].stats[space.entries[name].op.hash_key].values  # type: ignore[attr-defined]
            dup = 1 - len(set(labels.tolist())) / max(len(labels), 1)
            if dup > 0.01:
                items.append(ScreenItem(name, OpChoice(op=name), f"{dup:.1%} of the pool are duplicates"))
                seen.add(name)
        # Ops without prior evidence, last (screened only if the budget allows).
        for p in space.priors():
            if p.op in seen or p.op in banned:
                continue
            q = p.q if p.side == "min" else 1 - p.q
            items.append(ScreenItem(p.op, self._choice(p.op, p.param, q, state), f"weak prior (t={p.t:.1f})"))
            seen.add(p.op)
        pinned = [i for i in items if i.op in state.steering.pinned]
        rest = [i for i in items if i.op not in state.steering.pinned]
        return pinned + rest

    def _choice(self, op: str, param: str, q: float, state: SearchState) -> OpChoice:
        lo, hi = state.steering.ranges.get((op, param), (0.0, 1.0))
        q = min(max(q, lo), hi)
        return OpChoice(op=op, quantiles=[ParamValue(name=param, value=round(q, 4))])

    # ------------------------------------------------------------------ propose
    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        B = state.budget_probes
        reserve = replication_reserve(B)
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

        # 2. screen
        items = self.screen_items(state, space)
        max_screen = self.max_screen or max(2, min(len(items), round(0.35 * B)))
        screened = {t.purpose[len("screen:") :] for t in state.with_purpose("screen:")}
        todo = [i for i in items[:max_screen] if i.op not in screened]
        # Keep room for combine + search + replication.
        room = state.remaining - reserve - 2
        if todo and room > 0:
            todo = todo[:room]
            props = [
                Proposal(
                    kind="recipe",
                    ops=[i.choice],
                    purpose=f"screen:{i.op}",
                    hypothesis=f"removing the {i.op} tail helps: {i.why}",
                )
                for i in todo
            ]
            return Plan(
                proposals=props,
                rationale=(
                    f"screen {len(todo)} op(s) one at a time against the baseline (paired seed 0), chosen by "
                    f"training-free evidence: " + "; ".join(f"{i.op}: {i.why}" for i in todo)
                ),
            )

        effects = op_effects(state)
        by_op = {t.purpose[len("screen:") :]: t for t in state.with_purpose("screen:")}
        positive = sorted([op for op, e in effects.items() if e.mean > 0], key=lambda op: -effects[op].mean)
        positive = [op for op in positive if op not in state.steering.banned]
        pinned = [op for op in state.steering.pinned if op in space.entries and op not in positive]
        chosen = pinned + positive

        # 3. combine
        if chosen and not state.with_purpose("combine") and state.remaining > reserve:
            ops = [by_op[op].choices[0] if op in by_op else OpChoice(op=op) for op in chosen]
            eff = ", ".join(
                f"{op} {effects[op].mean:+.3f} [{effects[op].lo:+.3f}, {effects[op].hi:+.3f}]" for op in positive
            )
            dropped = [op for op, e in effects.items() if e.mean <= 0]
            return Plan(
                proposals=[Proposal(kind="recipe", ops=ops, purpose="combine", hypothesis="the helpful ops add up")],
                rationale=f"combine the ops with a positive effect ({eff})"
                + (f"; leave out {', '.join(dropped)} (no gain measured)" if dropped else ""),
            )

        # 4. Optuna on the thresholds of the combined ops (resumable: the target is derived from the
        # probes spent before the search, so a restarted run continues the same study).
        n_search = len(state.with_purpose("search"))
        before = state.used - n_search - len(state.with_purpose("replicate"))
        n_trials = (B - reserve - before) - n_search
        if chosen and n_trials >= 1 and (n_search > 0 or n_trials >= 2):
            start = [by_op[op].choices[0] if op in by_op else OpChoice(op=op) for op in chosen]
            dims = self._dims(start, space, state)
            if dims:
                return Plan(
                    proposals=[
                        Proposal(
                            kind="search",
                            ops=start,
                            search=dims,
                            n_trials=n_trials,
                            purpose="search",
                            hypothesis="better thresholds exist near the screened ones",
                        )
                    ],
                    rationale=f"tune {len(dims)} threshold(s) of {', '.join(chosen)} with TPE for {n_trials} trial(s), "
                    "starting from the combined recipe",
                )

        # 5. replicate and choose
        return replication_plan(state)

    def _dims(self, start: list[OpChoice], space: PoolSpace, state: SearchState) -> list[SearchDim]:
        dims = []
        for ch in start:
            e = space.entries.get(ch.op)
            if e is None:
                continue
            for qd in e.dims:
                given = next((float(p.value) for p in ch.quantiles if p.name == qd.param), None)
                if given is None:
                    continue  # search only the side the screen found useful
                lo, hi = (
                    (0.0, min(0.5, max(2 * given, 0.05))) if qd.side == "min" else (max(0.5, 1 - 2 * (1 - given)), 1.0)
                )
                ulo, uhi = state.steering.ranges.get((ch.op, qd.param), (0.0, 1.0))
                lo, hi = max(lo, ulo), min(hi, uhi)
                if hi > lo:
                    dims.append(SearchDim(op=ch.op, param=qd.param, low_q=round(lo, 4), high_q=round(hi, 4)))
        return dims
