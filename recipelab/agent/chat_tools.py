"""What chat can do to a run: read it (status, top, explain, effects, compare) and steer it (directives).

One implementation serves both the slash commands (no LLM) and the LLM agent's tools, so both behave
the same. Reading tools only read the memory; steering tools only write directives, which the running
loop (in any process) applies before its next planning step. Every input is validated like any API
input: tool arguments from an LLM are data, never code.
"""

from __future__ import annotations

import math
from typing import Any

from recipelab.agent import analysis
from recipelab.agent.plan import OpChoice, ParamValue
from recipelab.agent.state import SearchState, load_state
from recipelab.agent.steering import DirectiveError, validate_directive
from recipelab.memory import Memory
from recipelab.recipes import Recipe, RecipeError


class ToolError(ValueError):
    pass


def _fmt(v: float | None, nd: int = 4) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{nd}f}"


class RunTools:
    def __init__(self, memory: Memory, run_id: str, source: str = "chat") -> None:
        if memory.get_run(run_id) is None:
            raise ToolError(f"no run {run_id!r}; see `recipelab runs`")
        self.mem = memory
        self.run_id = run_id
        self.source = source

    # ------------------------------------------------------------------ state
    def _state(self) -> SearchState:
        return load_state(self.mem, self.run_id)

    # ------------------------------------------------------------------ reading
    def status(self) -> str:
        run = self.mem.get_run(self.run_id) or {}
        st = self._state()
        lines = [
            f"run {self.run_id}: {run.get('status')}; probes {st.used}/{st.budget_probes} "
            f"({len([t for t in st.trials if t.status == 'failed'])} failed)"
        ]
        best = analysis.best_so_far(st)
        if best:
            c, lo, hi = best
            lines.append(
                f"best so far: {c.mean:.4f} (90% CI {lo:.4f}..{hi:.4f}, {c.n} seed(s)) [{c.purpose}] {c.description}"
            )
        base = analysis.baseline(st)
        if base:
            lines.append(
                f"no-filter baseline: {base.mean:.4f} over {base.n} seed(s); seed noise sd {analysis.noise_sd(st):.4f}"
            )
        plans = self.mem.events(self.run_id, kinds="plan")
        if plans:
            lines.append(f"last plan: {plans[-1]['message'][:400]}")
        sv = st.steering
        if sv.banned or sv.pinned or sv.ranges or sv.notes:
            lines.append(
                f"steering: banned {sorted(sv.banned) or '-'}, pinned {sorted(sv.pinned) or '-'}, "
                f"ranges {[f'{o}.{p} {r}' for (o, p), r in sv.ranges.items()] or '-'}, {len(sv.notes)} note(s)"
            )
        pend = self.mem.pending_directives(self.run_id)
        if pend:
            lines.append(f"{len(pend)} directive(s) waiting for the loop's next step")
        return "\n".join(lines)

    def top(self, n: int = 5) -> str:
        n = max(1, min(int(n), 50))
        st = self._state()
        pooled = analysis.noise_sd(st)
        rows = []
        for c, lcb in analysis.ranked(st)[:n]:
            lo, hi = c.interval(pooled)
            ids = ",".join(str(t.id) for t in c.trials[:4])
            rows.append(
                f"#{ids} [{c.purpose}] mean {c.mean:.4f} (CI {lo:.4f}..{hi:.4f}, n={c.n}, lcb {lcb:.4f}) "
                f"keeps {c.trials[0].kept}: {c.description}"
            )
        return "\n".join(rows) or "no finished probe yet"

    def _experiment(self, exp_id: int) -> dict[str, Any]:
        e = self.mem.get_experiment(int(exp_id))
        if e is None or e["run_id"] != self.run_id:
            raise ToolError(f"no experiment {exp_id} in run {self.run_id}")
        return e

    def explain(self, exp_id: int) -> str:
        e = self._experiment(exp_id)
        st = self._state()
        cand = next((c for c in analysis.candidates(st) if c.recipe_fp == e.get("recipe_fp")), None)
        try:
            desc = Recipe.from_dj(e.get("recipe") or {}).describe()
        except (RecipeError, ValueError):
            desc = "?"
        lines = [f"experiment #{e['id']} [{e.get('purpose')}] {e['status']}: {desc}"]
        if e["status"] == "failed":
            lines.append(f"failed: {e.get('error')}")
        m = e.get("metrics") or {}
        if m:
            keys = [k for k in ("mean_recall", "recall@1", "recall@5", "zeroshot") if k in m]
            lines.append("metrics: " + ", ".join(f"{k}={_fmt(m[k])}" for k in keys))
        if cand is not None and cand.n:
            lo, hi = cand.interval(analysis.noise_sd(st))
            lines.append(f"this recipe over {cand.n} seed(s): mean {cand.mean:.4f}, 90% CI {lo:.4f}..{hi:.4f}")
            eff = analysis.effect_vs_baseline(st, cand)
            if eff:
                lines.append(
                    f"difference from the no-filter baseline: {eff.mean:+.4f} (90% CI {eff.lo:+.4f}.."
                    f"{eff.hi:+.4f}, {'paired' if eff.paired else 'unpaired'})"
                )
        removed = (e.get("spec") or {}).get("removed") or []
        if removed:
            lines.append(
                "removed per op: "
                + ", ".join(f"{r['op']} {r['removed']}" for r in removed)
                + f"; kept {e.get('kept_size')}"
            )
        return "\n".join(lines)

    def effects(self) -> str:
        st = self._state()
        eff = analysis.op_effects(st)
        if not eff:
            return "no single-op screening results yet"
        rows = sorted(eff.items(), key=lambda x: -x[1].mean)
        return "\n".join(
            f"{op}: {e.mean:+.4f} (90% CI {e.lo:+.4f}..{e.hi:+.4f}, n={e.n})"
            + (" significant" if e.significant else "")
            for op, e in rows
        )

    def compare(self, exp_a: int, exp_b: int) -> str:
        a, b = self._experiment(exp_a), self._experiment(exp_b)
        st = self._state()
        cs = {c.recipe_fp: c for c in analysis.candidates(st)}
        ca, cb = cs.get(a.get("recipe_fp")), cs.get(b.get("recipe_fp"))
        ra, rb = Recipe.from_dj(a.get("recipe") or {}), Recipe.from_dj(b.get("recipe") or {})
        oa = {o.name: o.params for o in ra.process}
        ob = {o.name: o.params for o in rb.process}
        lines = [f"#{a['id']}: {ra.describe()}", f"#{b['id']}: {rb.describe()}"]
        only_a, only_b = sorted(set(oa) - set(ob)), sorted(set(ob) - set(oa))
        if only_a:
            lines.append(f"only in #{a['id']}: {', '.join(only_a)}")
        if only_b:
            lines.append(f"only in #{b['id']}: {', '.join(only_b)}")
        for op in sorted(set(oa) & set(ob)):
            diff = {
                k: (oa[op].get(k), ob[op].get(k)) for k in set(oa[op]) | set(ob[op]) if oa[op].get(k) != ob[op].get(k)
            }
            if diff:
                lines.append(f"{op}: " + ", ".join(f"{k} {x} vs {y}" for k, (x, y) in diff.items()))
        if ca and cb:
            pooled = analysis.noise_sd(st)
            d = ca.mean - cb.mean
            se = pooled * math.sqrt(1 / ca.n + 1 / cb.n)
            lines.append(
                f"metric: {ca.mean:.4f} (n={ca.n}) vs {cb.mean:.4f} (n={cb.n}); difference {d:+.4f} "
                f"± {1.8 * se:.4f} (90%)"
            )
        lines.append(f"kept: {a.get('kept_size')} vs {b.get('kept_size')}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ steering
    def _directive(self, kind: str, payload: dict[str, Any]) -> str:
        try:
            validate_directive(kind, payload)
        except (DirectiveError, ValueError) as e:
            raise ToolError(str(e)) from None
        did = self.mem.add_directive(self.run_id, kind, payload, source=self.source)
        run = self.mem.get_run(self.run_id) or {}
        when = (
            "before its next planning step"
            if run.get("status") in ("running", "paused", "created")
            else f"when the run is resumed (it is {run.get('status')})"
        )
        return f"directive #{did} {kind} queued; the loop applies it {when}"

    def queue(self, recipe_yaml: str | None = None, ops: list[dict[str, Any]] | None = None) -> str:
        """A recipe to probe next: Data-Juicer YAML, or op choices (quantile thresholds)."""
        if recipe_yaml:
            try:
                rec = Recipe.from_yaml(recipe_yaml, source="queued recipe")
            except RecipeError as e:
                raise ToolError(str(e)) from None
            ops = [
                OpChoice(
                    op=o.name,
                    params=[
                        ParamValue(name=k, value=v)
                        for k, v in o.params.items()
                        if isinstance(v, (int, float, str, bool))
                    ],
                ).model_dump(mode="json")
                for o in rec.process
            ]
        if not ops:
            raise ToolError("queue: give a recipe (YAML) or a list of ops")
        return self._directive("queue", {"ops": ops})

    def ban(self, op: str) -> str:
        return self._directive("ban", {"op": op})

    def unban(self, op: str) -> str:
        return self._directive("unban", {"op": op})

    def pin(self, op: str) -> str:
        return self._directive("pin", {"op": op})

    def unpin(self, op: str) -> str:
        return self._directive("unpin", {"op": op})

    def set_range(self, op: str, param: str, low_q: float, high_q: float) -> str:
        return self._directive("range", {"op": op, "param": param, "low_q": float(low_q), "high_q": float(high_q)})

    def budget(self, delta: int | None = None, set_to: int | None = None) -> str:
        if set_to is not None:
            return self._directive("budget", {"set": int(set_to)})
        if delta is None:
            raise ToolError("budget: give a delta (+10, -5) or a value to set")
        return self._directive("budget", {"delta": int(delta)})

    def pause(self) -> str:
        return self._directive("pause", {})

    def resume(self) -> str:
        return self._directive("resume", {})

    def stop(self) -> str:
        return self._directive("stop", {})

    def note(self, text: str) -> str:
        return self._directive("note", {"text": str(text)[:2000]})
