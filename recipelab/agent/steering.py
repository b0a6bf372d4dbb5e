"""Directives (from chat or the CLI) -> the constraints the planner must respect.

The steering state is a fold over every applied directive of the run, recomputed from the memory
before each planning step, so a resumed run keeps what the user said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recipelab.agent.plan import OpChoice
from recipelab.operators.registry import UnknownOperatorError, get_op_class

#: Directive kinds the loop understands, with the payload each takes.
DIRECTIVE_KINDS = {
    "ban": "{op}",
    "unban": "{op}",
    "pin": "{op}",
    "unpin": "{op}",
    "range": "{op, param, low_q, high_q}",
    "note": "{text}",
    "budget": "{delta} or {set}",
    "pause": "{}",
    "resume": "{}",
    "stop": "{}",
    "queue": "{ops: [OpChoice...]}",
}


@dataclass
class Steering:
    """Directives from chat/CLI that constrain planning (applied by the loop before each step)."""

    banned: set[str] = field(default_factory=set)
    pinned: set[str] = field(default_factory=set)
    #: (op, param) -> (low_q, high_q): user-narrowed threshold ranges.
    ranges: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    queued: list[list[OpChoice]] = field(default_factory=list)
    queued_ids: list[int] = field(default_factory=list)  # directive id of each queued recipe


class DirectiveError(ValueError):
    pass


def validate_directive(kind: str, payload: dict[str, Any]) -> None:
    """Raise DirectiveError with a one-line reason if the directive can't be applied."""
    if kind not in DIRECTIVE_KINDS:
        raise DirectiveError(f"unknown directive {kind!r}; known: {', '.join(DIRECTIVE_KINDS)}")
    if kind in ("ban", "unban", "pin", "unpin", "range"):
        op = payload.get("op")
        if not isinstance(op, str):
            raise DirectiveError(f"{kind}: field op: expected an operator name")
        try:
            cls = get_op_class(op)
        except UnknownOperatorError as e:
            raise DirectiveError(f"{kind}: {e}") from None
        if kind == "range":
            ths = {t.param for t in getattr(cls, "thresholds", ())}
            if payload.get("param") not in ths:
                raise DirectiveError(f"range: field param: {op} has thresholds {sorted(ths)}")
            lo, hi = payload.get("low_q"), payload.get("high_q")
            if not all(isinstance(x, (int, float)) for x in (lo, hi)) or not (0 <= lo < hi <= 1):
                raise DirectiveError("range: fields low_q/high_q: need 0 <= low_q < high_q <= 1")
    if kind == "budget":
        d, s = payload.get("delta"), payload.get("set")
        if not isinstance(d, int) and not isinstance(s, int):
            raise DirectiveError("budget: give an integer delta (e.g. +10) or set")
    if kind == "note" and not str(payload.get("text", "")).strip():
        raise DirectiveError("note: field text: empty")
    if kind == "queue":
        ops = payload.get("ops")
        if not isinstance(ops, list):
            raise DirectiveError("queue: field ops: expected a list of {op, params, quantiles}")
        for o in ops:
            ch = OpChoice.model_validate(o)
            try:
                get_op_class(ch.op)
            except UnknownOperatorError as e:
                raise DirectiveError(f"queue: {e}") from None


def fold(directives: list[dict[str, Any]], probed_queue_ids: set[int]) -> Steering:
    """Steering from the run's applied directives, in order."""
    st = Steering()
    for d in directives:
        if d["status"] != "applied":
            continue
        k, p = d["kind"], d.get("payload") or {}
        if k == "ban":
            st.banned.add(p["op"])
            st.pinned.discard(p["op"])
        elif k == "unban":
            st.banned.discard(p["op"])
        elif k == "pin":
            st.pinned.add(p["op"])
            st.banned.discard(p["op"])
        elif k == "unpin":
            st.pinned.discard(p["op"])
        elif k == "range":
            st.ranges[(p["op"], p["param"])] = (float(p["low_q"]), float(p["high_q"]))
        elif k == "note":
            st.notes.append(str(p["text"]))
        elif k == "queue" and d["id"] not in probed_queue_ids:
            st.queued.append([OpChoice.model_validate(o) for o in p["ops"]])
            st.queued_ids.append(d["id"])
    return st


# ---------------------------------------------------------------------- applying directives
class StopRun(Exception):
    """The user asked to stop (directive): the loop ends and chooses from what is measured."""


class DirectiveApplier:
    """Applies a run's pending directives (from chat or the CLI, possibly another process) between
    planning steps; ``pause`` blocks here until ``resume`` or ``stop``."""

    def __init__(self, memory: Any, run_id: str, default_budget: int, poll_s: float = 0.5) -> None:
        self.mem = memory
        self.run_id = run_id
        self.default_budget = default_budget
        self.poll_s = poll_s

    def apply_pending(self) -> None:
        """Apply every pending directive; raise `StopRun` on ``stop``."""
        import time

        while True:
            paused = False
            for d in self.mem.pending_directives(self.run_id):
                kind, payload = d["kind"], d.get("payload") or {}
                try:
                    validate_directive(kind, payload)
                except (DirectiveError, ValueError) as e:
                    self.mem.resolve_directive(d["id"], "rejected", str(e))
                    self.mem.log_event(
                        self.run_id, "directive", f"rejected directive #{d['id']} {kind}: {e}", {"directive": d["id"]}
                    )
                    continue
                result = self.apply_one(kind, payload)
                self.mem.resolve_directive(d["id"], "applied", result)
                self.mem.log_event(
                    self.run_id,
                    "directive",
                    f"applied directive #{d['id']} {kind}: {result}",
                    {"directive": d["id"], "kind": kind, "payload": payload},
                )
                if kind == "stop":
                    raise StopRun(result)
                if kind == "pause":
                    paused = True
                if kind == "resume":
                    paused = False
            status = (self.mem.get_run(self.run_id) or {}).get("status")
            if not paused and status != "paused":
                return
            if status != "paused":
                self.mem.set_run_status(self.run_id, "paused")
            time.sleep(self.poll_s)

    def apply_one(self, kind: str, p: dict[str, Any]) -> str:
        """Apply one valid directive; returns what it did, in words (logged and shown in chat)."""
        if kind == "budget":
            run = self.mem.get_run(self.run_id) or {}
            budget = dict(run.get("budget") or {})
            old = int(budget.get("probes", self.default_budget))
            new = int(p["set"]) if isinstance(p.get("set"), int) else old + int(p["delta"])
            budget["probes"] = max(0, new)
            self.mem.update_run(self.run_id, budget=budget)
            return f"probe budget {old} -> {budget['probes']}"
        if kind == "pause":
            self.mem.set_run_status(self.run_id, "paused")
            return "paused before the next planning step"
        if kind == "resume":
            self.mem.set_run_status(self.run_id, "running")
            return "resumed"
        if kind == "stop":
            return "stopping: choosing the final recipe from what is measured"
        if kind in ("ban", "unban", "pin", "unpin"):
            return f"{kind} {p['op']}: the planner {'will not use' if kind == 'ban' else 'will consider'} it"
        if kind == "range":
            return f"{p['op']}.{p['param']} limited to quantiles [{p['low_q']}, {p['high_q']}]"
        if kind == "note":
            return "noted for the planner"
        if kind == "queue":
            return f"queued a recipe of {len(p['ops'])} op(s) to probe next"
        return "ok"
