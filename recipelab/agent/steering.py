"""Directives (from chat or the CLI) -> the constraints the planner must respect.

The steering state is a fold over every applied directive of the run, recomputed from the memory
before each planning step, so a resumed run keeps what the user said.
"""

from __future__ import annotations

from typing import Any

from recipelab.agent.plan import OpChoice
from recipelab.agent.state import Steering
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
