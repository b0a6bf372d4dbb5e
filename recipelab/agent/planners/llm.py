"""LLM planner: LangChain ``ChatOpenAI`` on any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama,
llama.cpp server), structured output (a strict JSON schema in ``response_format``) parsed and
validated by us.

Why we parse the reply ourselves instead of ``with_structured_output``: that helper raises inside the
call on a malformed reply (losing the token counts and the raw text we log) or, with function calling,
silently returns None (LLM_NOTES.md). Here every failure mode is a normal value we can log, repair once,
and then fall back from.

Safety: the reply is data. Op names are looked up in the registry, numbers must be finite and in range,
nothing from the reply is executed. Dataset text never enters the prompt; user notes enter as a quoted
block. The API key comes from the environment and never reaches the log (the memory redacts it too).
"""

from __future__ import annotations

import json
import math
import re
import time
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from recipelab.agent import analysis
from recipelab.agent.plan import OpChoice, ParamValue, Plan, Proposal, SearchDim
from recipelab.agent.planners.base import replication_reserve
from recipelab.agent.space import PoolSpace
from recipelab.agent.state import SearchState
from recipelab.agent.validate import validate_plan
from recipelab.config import ENV_LLM_KEY, LLMConfig
from recipelab.operators.base import Filter

MAX_PROPOSALS = 8


# ----------------------------------------------------------------------------- reply schema
# Strict-mode friendly: every field required, no open objects, param values as strings.
class _Q(BaseModel):
    name: str
    value: float


class _P(BaseModel):
    name: str
    value: str


class _Op(BaseModel):
    op: str
    quantiles: list[_Q]
    params: list[_P]


class _Dim(BaseModel):
    op: str
    param: str
    low_q: float
    high_q: float


class _Proposal(BaseModel):
    kind: Literal["recipe", "search"]
    ops: list[_Op]
    search: list[_Dim]
    n_trials: int
    seeds: int
    first_seed: int
    purpose: str
    hypothesis: str


class LLMPlanReply(BaseModel):
    rationale: str
    converged: bool
    proposals: list[_Proposal]


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Pydantic's JSON schema made acceptable to OpenAI strict mode (closed objects, all required)."""
    schema = model.model_json_schema()

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    fix(schema)
    return schema


def _coerce(v: str) -> float | int | str | bool:
    s = v.strip()
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
        return f if math.isfinite(f) else s
    except ValueError:
        return s


_TAG = re.compile(r"[^a-zA-Z0-9:_\-.]")


def to_plan(reply: LLMPlanReply) -> Plan:
    props = []
    for p in reply.proposals[:MAX_PROPOSALS]:
        ops = [
            OpChoice(
                op=o.op,
                quantiles=[ParamValue(name=q.name, value=q.value) for q in o.quantiles],
                params=[ParamValue(name=x.name, value=_coerce(x.value)) for x in o.params],
            )
            for o in p.ops
        ]
        purpose = _TAG.sub("_", p.purpose)[:60] or "llm"
        if purpose == "baseline" and ops:
            purpose = "llm:baseline"
        if purpose.startswith("test:"):
            purpose = "llm:" + purpose
        props.append(
            Proposal(
                kind=p.kind,
                ops=ops,
                n_trials=max(0, min(p.n_trials, 200)),
                seeds=max(1, min(p.seeds, 10)),
                first_seed=max(0, min(p.first_seed, 100)),
                purpose=purpose,
                hypothesis=p.hypothesis[:500],
                search=[
                    SearchDim(
                        op=d.op, param=d.param, low_q=min(max(d.low_q, 0.0), 1.0), high_q=min(max(d.high_q, 0.0), 1.0)
                    )
                    for d in p.search
                ],
            )
        )
    return Plan(proposals=props, rationale=reply.rationale[:4000], converged=reply.converged)


def parse_reply(text: str) -> LLMPlanReply:
    """JSON (optionally inside a ``` fence) -> reply model; raises ValueError with a short reason."""
    s = text.strip()
    m = re.search(r"```(?:json)?\s*(.*?)```", s, re.S)
    if m:
        s = m.group(1).strip()
    if not s.startswith("{"):
        i, j = s.find("{"), s.rfind("}")
        if i >= 0 and j > i:
            s = s[i : j + 1]
    try:
        data = json.loads(s, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not allowed")))
    except json.JSONDecodeError as e:
        raise ValueError(f"reply is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    try:
        reply = LLMPlanReply.model_validate(data)
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(str(x) for x in er['loc'])}: {er['msg']}" for er in e.errors()[:5])
        raise ValueError(f"reply does not match the plan schema: {errs}") from None
    for p in reply.proposals:
        for o in p.ops:
            for q in o.quantiles:
                if not math.isfinite(q.value):
                    raise ValueError(f"{o.op}.{q.name}: quantile must be finite")
        for d in p.search:
            if not (math.isfinite(d.low_q) and math.isfinite(d.high_q)):
                raise ValueError(f"search {d.op}.{d.param}: bounds must be finite")
    return reply


# ----------------------------------------------------------------------------- prompt
def load_prompt(name: str) -> str:
    return resources.files("recipelab.prompts").joinpath(name).read_text(encoding="utf-8")


def _fmt_choice(ch: OpChoice) -> str:
    parts = [f"{q.name}@q{float(q.value):.3g}" for q in ch.quantiles] + [f"{p.name}={p.value}" for p in ch.params]
    return f"{ch.op}({', '.join(parts)})"


def render_prompt(state: SearchState, space: PoolSpace, stat_hint: Plan, cfg_task: str, train_size: int) -> str:
    ops_lines = []
    for name, e in space.entries.items():
        if isinstance(e.op, Filter):
            ths = ", ".join(f"{t.param} ({t.side} bound on {t.stat_key})" for t in e.op.thresholds)
            qs = space.describe_quantiles().get(e.op.thresholds[0].stat_key, {}) if e.op.thresholds else {}
            qtxt = " ".join(f"{k}={v:.3g}" for k, v in qs.items())
            ops_lines.append(f"- {name}: {e.op.summary}; thresholds: {ths}; stat quantiles: {qtxt}")
        else:
            ops_lines.append(f"- {name}: {e.op.summary} (deduplicator, no threshold)")
    pri = [
        f"- {p.op}.{p.param}: tail {p.q:.0%} score {p.tail_mean:.3f} vs {p.rest_mean:.3f} (t={p.t:.1f})"
        for p in space.priors()[:12]
    ]
    res = []
    pooled = analysis.noise_sd(state)
    for c, lcb in analysis.ranked(state)[:15]:
        e = analysis.effect_vs_baseline(state, c)
        eff = f"effect {e.mean:+.4f} [{e.lo:+.4f}, {e.hi:+.4f}]" if e else "effect n/a"
        recipe = ", ".join(_fmt_choice(ch) for ch in c.trials[0].choices) or "(no filter)"
        res.append(
            f"- [{c.purpose}] {recipe}: mean {c.mean:.4f} over {c.n} seed(s), {eff}, lcb {lcb:.4f}, "
            f"keeps {c.trials[0].kept}"
        )
    failed = [t for t in state.trials if t.status == "failed"][:5]
    res += [f"- FAILED [{t.purpose}] {', '.join(_fmt_choice(c) for c in t.choices)}" for t in failed]
    hint = (
        "\n".join(
            f"- {p.kind} [{p.purpose}] {', '.join(_fmt_choice(c) for c in p.ops)}"
            + (f" search {[(d.op, d.param, d.low_q, d.high_q) for d in p.search]} x{p.n_trials}" if p.search else "")
            for p in stat_hint.proposals
        )
        or "- (nothing: converged)"
    )
    hint += f"\n  because: {stat_hint.rationale}"
    notes = "\n".join(n.replace("```", "'''") for n in state.steering.notes) or "(none)"
    return load_prompt("planner.md").format(
        task=cfg_task,
        train_size=train_size,
        pool_size=space.n,
        metric=state.primary,
        noise_sd=f"{pooled:.3f}",
        remaining=state.remaining,
        budget=state.budget_probes,
        reserve=replication_reserve(state.budget_probes),
        ops_table="\n".join(ops_lines),
        priors_table="\n".join(pri) or "(no proxy scores)",
        results_table="\n".join(res) or "(nothing measured yet)",
        banned=", ".join(sorted(state.steering.banned)) or "none",
        pinned=", ".join(sorted(state.steering.pinned)) or "none",
        notes=notes,
        stat_hint=hint,
        max_proposals=MAX_PROPOSALS,
    )


# ----------------------------------------------------------------------------- planner
class LLMPlanner:
    name = "llm"

    def __init__(
        self,
        cfg: LLMConfig,
        fallback: Any,
        memory: Any = None,
        run_id: str | None = None,
        task: str = "clip",
        train_size: int = 0,
        budget_tokens: int | None = None,
    ) -> None:
        self.cfg = cfg.resolved()
        self.fallback = fallback
        self.memory = memory
        self.run_id = run_id
        self.task = task
        self.train_size = train_size
        self.budget_tokens = budget_tokens
        self._model = None

    def model(self) -> Any:
        if self._model is None:
            import os

            from langchain_openai import ChatOpenAI

            schema = {"name": "recipe_plan", "schema": strict_schema(LLMPlanReply), "strict": True}
            self._model = ChatOpenAI(
                model=self.cfg.model,
                base_url=self.cfg.base_url,
                api_key=os.environ.get(ENV_LLM_KEY) or "not-needed",
                timeout=self.cfg.timeout_s,
                max_retries=self.cfg.max_retries,
                temperature=self.cfg.temperature,
                max_tokens=self.cfg.max_tokens,
            ).bind(response_format={"type": "json_schema", "json_schema": schema})
        return self._model

    def _log(self, kind: str, message: str, payload: Any = None) -> None:
        if self.memory is not None and self.run_id is not None:
            self.memory.log_event(self.run_id, kind, message, payload)

    def tokens_used(self) -> int:
        if self.memory is None or self.run_id is None:
            return 0
        return sum(
            int((e.get("payload") or {}).get("total_tokens") or 0) for e in self.memory.events(self.run_id, kinds="llm")
        )

    def _call(self, messages: list[Any], attempt: str) -> str:
        """One chat call; logs prompt, reply, tokens and cost. Raises on transport errors."""
        t0 = time.perf_counter()
        try:
            msg = self.model().invoke(messages)
        except Exception as e:
            self._log(
                "llm",
                f"{attempt}: call failed after retries: {type(e).__name__}: {str(e)[:300]}",
                {
                    "attempt": attempt,
                    "error": f"{type(e).__name__}: {e}",
                    "latency_s": time.perf_counter() - t0,
                    "model": self.cfg.model,
                    "total_tokens": 0,
                },
            )
            raise
        usage = getattr(msg, "usage_metadata", None) or {}
        tin, tout = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
        cost = tin * self.cfg.price_in_per_m / 1e6 + tout * self.cfg.price_out_per_m / 1e6
        content = msg.content if isinstance(msg.content, str) else json.dumps(msg.content)
        self._log(
            "llm",
            f"{attempt}: {tin}+{tout} tokens, ${cost:.4f}, {time.perf_counter() - t0:.1f}s",
            {
                "attempt": attempt,
                "model": self.cfg.model,
                "prompt": [_msg_text(m) for m in messages],
                "reply": content,
                "input_tokens": tin,
                "output_tokens": tout,
                "total_tokens": tin + tout,
                "cost_usd": cost,
                "latency_s": time.perf_counter() - t0,
            },
        )
        return content

    def propose(self, state: SearchState, space: PoolSpace) -> Plan:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        hint = self.fallback.propose(state, space)
        if state.remaining <= 0:
            return hint
        if not state.with_purpose("baseline"):
            return hint.model_copy(update={"rationale": "(statistical planner: baseline step) " + hint.rationale})
        if self.budget_tokens is not None and self.tokens_used() >= self.budget_tokens:
            self._log("decision", "LLM token budget spent: the statistical planner decides from now on")
            return hint
        prompt = render_prompt(state, space, hint, self.task, self.train_size)
        messages: list[Any] = [
            SystemMessage("You plan data-recipe experiments. Reply with JSON only."),
            HumanMessage(prompt),
        ]
        problem = ""
        for attempt in ("plan", "repair"):
            try:
                text = self._call(messages, attempt)
            except Exception as e:  # noqa: BLE001 - any transport failure ends in the logged fallback
                return self._fallback(hint, f"LLM call failed ({type(e).__name__})")
            try:
                plan = to_plan(parse_reply(text))
                plan, errors = validate_plan(plan, space, frozenset(state.steering.banned))
                if not errors and (plan.proposals or plan.converged):
                    if plan.converged and state.remaining > 0 and not plan.proposals:
                        # The budget is the user's: spend the rest on the shared replication end game.
                        return hint.model_copy(
                            update={
                                "rationale": f"LLM says converged ({plan.rationale}); "
                                "replicating contenders with the rest"
                            }
                        )
                    return plan
                problem = "; ".join(errors) or "no proposals"
            except ValueError as e:
                problem = str(e)
            if attempt == "plan":
                messages += [
                    AIMessage(text),
                    HumanMessage(
                        f"Your reply could not be used: {problem}. Reply again with one corrected JSON object "
                        "that uses only the listed operators and threshold params."
                    ),
                ]
        return self._fallback(hint, f"reply invalid after one repair turn: {problem}")

    def _fallback(self, hint: Plan, why: str) -> Plan:
        self._log("decision", f"fallback to the statistical planner for this step: {why}", {"fallback": True})
        return hint.model_copy(update={"rationale": f"(statistical planner, LLM fallback: {why}) {hint.rationale}"})


def _msg_text(m: Any) -> dict[str, str]:
    return {"role": getattr(m, "type", "?"), "content": str(getattr(m, "content", ""))}
