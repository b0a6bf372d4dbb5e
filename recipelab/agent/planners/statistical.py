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

import numpy as np

from recipelab.agent.analysis import candidates, op_effects
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
    strong: bool = True
    removes: int = 0


class StatisticalPlanner:
    name = "stat"

    def __init__(self, max_screen: int | None = None) -> None:
        self.max_screen = max_screen

    # ------------------------------------------------------------------ screening list
    def screen_items(self, state: SearchState, space: PoolSpace) -> list[ScreenItem]:
        """Ops to screen, most promising first: pinned ops, then ops with strong training-free
        evidence, then the rest. An op whose tail is mostly samples an earlier item already removes
        (say average_line_length after text_length) is marked redundant and moved to the end, so the
        few screening probes cover different kinds of noise."""
        cands: list[ScreenItem] = []
        seen: set[str] = set()
        banned = state.steering.banned
        if SIMILARITY_OP in space.entries and SIMILARITY_OP not in banned:
            cands.append(
                ScreenItem(
                    SIMILARITY_OP,
                    self._choice(SIMILARITY_OP, "min_score", SIM_TAIL_Q, state),
                    "image-text mismatch is the costliest noise for contrastive training",
                )
            )
            seen.add(SIMILARITY_OP)
        priors = space.priors()
        for strong in (True, False):
            for p in priors:
                if p.op in seen or p.op in banned or p.strong != strong:
                    continue
                q = p.q if p.side == "min" else 1 - p.q
                why = p.why() if strong else f"weak prior: {p.why()}"
                cands.append(ScreenItem(p.op, self._choice(p.op, p.param, q, state), why, strong=strong))
                seen.add(p.op)
            if strong:
                for name in space.dedup_names:
                    if name in banned or name in seen:
                        continue
                    e = space.entries[name]
                    labels = e.stats[e.op.hash_key].values  # type: ignore[attr-defined]
                    dup = 1 - len(np.unique(labels)) / max(len(labels), 1)
                    if dup > 0.01:
                        cands.append(ScreenItem(name, OpChoice(op=name), f"{dup:.1%} of the pool are duplicates"))
                        seen.add(name)
        pinned = [i for i in cands if i.op in state.steering.pinned]
        rest = [i for i in cands if i.op not in state.steering.pinned]
        ordered = pinned + rest
        # Redundancy: compare what each item removes with what the items before it remove.
        removed_union = np.zeros(space.n, dtype=bool)
        fresh, redundant = [], []
        for it in ordered:
            removed = ~space.apply(space.to_recipe([it.choice])).kept
            it.removes = int(removed.sum())
            overlap = float((removed & removed_union).sum()) / max(int(removed.sum()), 1)
            if it.removes == 0 or (overlap > 0.6 and it.op not in state.steering.pinned):
                it.why += (
                    f" (redundant: {overlap:.0%} of its tail is already covered)"
                    if it.removes
                    else " (removes nothing)"
                )
                it.strong = False
                redundant.append(it)
                continue
            removed_union |= removed
            fresh.append(it)
        return fresh + redundant

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
        strong = [i for i in items if i.strong]
        max_screen = self.max_screen or max(2, round(0.3 * B))
        screened = {t.purpose[len("screen:") :] for t in state.with_purpose("screen:")}
        todo = [i for i in strong[:max_screen] if i.op not in screened]
        room = state.remaining - reserve - 3  # keep room for two combinations and a search
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
            skipped = [i for i in items if not i.strong][:6]
            return Plan(
                proposals=props,
                rationale=(
                    f"screen {len(todo)} op(s) one at a time against the baseline (paired seed 0), chosen by "
                    "training-free evidence: "
                    + "; ".join(f"{i.op}: {i.why}" for i in todo)
                    + ("; not screened: " + "; ".join(f"{i.op}: {i.why}" for i in skipped) if skipped else "")
                ),
            )

        effects = op_effects(state)
        by_op = {t.purpose[len("screen:") :]: t.choices[0] for t in state.with_purpose("screen:") if t.choices}
        by_op.update({i.op: i.choice for i in items if i.op not in by_op})
        positive = sorted([op for op, e in effects.items() if e.mean > 0], key=lambda op: -effects[op].mean)
        positive = [op for op in positive if op not in state.steering.banned]
        pinned = [op for op in state.steering.pinned if op in space.entries and op not in positive]
        measured = pinned + positive
        unmeasured = [i.op for i in strong if i.op not in effects and i.op not in measured]
        combos = {"combine:measured": measured}
        if unmeasured:
            combos["combine:evidence"] = measured + unmeasured

        # 3. combine: the measured winners; and the winners plus the ops with evidence but no probe yet
        probed = {t.recipe_fp for t in state.trials}
        todo_c = [
            (tag, ops)
            for tag, ops in combos.items()
            if ops
            and not state.with_purpose(tag)
            and space.to_recipe([by_op[o] for o in ops]).fingerprint() not in probed
        ]
        if todo_c and state.remaining > reserve:
            eff = ", ".join(
                f"{op} {effects[op].mean:+.3f} [{effects[op].lo:+.3f}, {effects[op].hi:+.3f}]" for op in positive
            )
            dropped = [op for op, e in effects.items() if e.mean <= 0]
            props = [
                Proposal(
                    kind="recipe",
                    ops=[by_op[o] for o in ops],
                    purpose=tag,
                    hypothesis="the helpful ops add up"
                    if tag.endswith("measured")
                    else "the unscreened ops with evidence add to the winners",
                )
                for tag, ops in todo_c[: state.remaining - reserve]
            ]
            return Plan(
                proposals=props,
                rationale=f"combine the ops with a positive effect ({eff or 'none'})"
                + (f"; leave out {', '.join(dropped)} (no gain measured)" if dropped else "")
                + (
                    f"; a second combination adds {', '.join(unmeasured)} (evidence, not yet measured)"
                    if unmeasured
                    else ""
                ),
            )

        # 4. Optuna on the thresholds of every op of the combinations, starting from the better one;
        # an op outside it starts switched off (quantile 0 / 1), so TPE may turn it on. Resumable: the
        # target is derived from the probes spent before the search.
        n_search = len(state.with_purpose("search"))
        before = state.used - n_search - len(state.with_purpose("replicate"))
        n_trials = (B - reserve - before) - n_search
        combo_results = [(c.mean, c) for c in candidates(state) if c.purpose.startswith("combine:")]
        if combo_results and n_trials >= 1 and (n_search > 0 or n_trials >= 2):
            best = max(combo_results, key=lambda x: x[0])[1]
            banned = state.steering.banned
            best_choices = [c for c in best.trials[0].choices if c.op not in banned]
            in_best = {c.op for c in best_choices}
            union = [op for op in dict.fromkeys(op for ops in combos.values() for op in ops) if op not in banned]
            start = list(best_choices) + [
                self._off(by_op[op], space) for op in union if op not in in_best and space.entries[op].dims
            ]
            dims = self._dims([by_op.get(c.op, c) for c in start], space, state)
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
                    rationale=f"tune {len(dims)} threshold(s) of {', '.join(union)} with TPE for {n_trials} "
                    f"trial(s), starting from {best.purpose} ({best.mean:.4f})",
                )

        # 5. replicate and choose
        return replication_plan(state)

    @staticmethod
    def _off(choice: OpChoice, space: PoolSpace) -> OpChoice:
        """The same op with its searched bounds set to keep everything."""
        sides = {d.param: d.side for d in space.entries[choice.op].dims}
        qs = [ParamValue(name=q.name, value=0.0 if sides.get(q.name) == "min" else 1.0) for q in choice.quantiles]
        return OpChoice(op=choice.op, params=choice.params, quantiles=qs)

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
