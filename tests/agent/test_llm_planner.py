"""The LLM planner against a real local OpenAI-compatible HTTP server with scripted replies.

Every failure mode must end in a finished run: a repair turn, then a logged fallback to the statistical
planner for that step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipelab.config import LLMConfig
from recipelab.memory import Memory
from tests.conftest import make_synthetic_loop
from tests.fake_openai import FakeOpenAI

OPS = [
    "text_length_filter",
    "special_characters_filter",
    "image_aspect_ratio_filter",
    "image_shape_filter",
    "image_entropy_filter",
    "image_sharpness_filter",
    "image_deduplicator",
]
SECRET = "sk-test-secret-key-0123456789"


def plan(op: str = "image_sharpness_filter", param: str = "min_sharpness", q: float = 0.1, **over) -> str:
    p = {
        "kind": "recipe",
        "ops": [{"op": op, "quantiles": [{"name": param, "value": q}], "params": []}],
        "search": [],
        "n_trials": 0,
        "seeds": 1,
        "first_seed": 0,
        "purpose": f"llm:{op}",
        "hypothesis": "blur hurts",
    }
    p.update(over)
    return json.dumps({"rationale": "probe the blurry tail", "converged": False, "proposals": [p]})


GOOD = {"content": plan()}


def run_with(script: list, tmp_path: Path, tiny_bench: Path, synthetic_env, monkeypatch, **llm) -> tuple:  # noqa: ANN001
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI(script) as server:
        loop = make_synthetic_loop(
            tmp_path,
            tiny_bench,
            synthetic_env,
            ops=OPS,
            budget_probes=7,
            test_seeds=0,
            planner="llm",
            llm=LLMConfig(base_url=server.base_url, model="fake-model", **{"timeout_s": 5, "max_retries": 0, **llm}),
        )
        ws, mem = loop.ws, loop.mem
        out = loop.run()
    assert out.status == "done"
    raw = ws.memory_path.read_bytes() + (
        ws.memory_path.with_name("memory.sqlite-wal").read_bytes()
        if ws.memory_path.with_name("memory.sqlite-wal").exists()
        else b""
    )
    assert SECRET.encode() not in raw  # the key never reaches the memory
    return loop, mem, server


def fallbacks(mem: Memory, run_id: str) -> list[str]:
    return [e["message"] for e in mem.events(run_id, kinds="decision") if "fallback" in e["message"]]


def test_good_plan_is_used_and_logged(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    loop, mem, server = run_with([GOOD], tmp_path, tiny_bench, synthetic_env, monkeypatch)
    purposes = [e["purpose"] for e in mem.experiments(loop.run_id)]
    assert "llm:image_sharpness_filter" in purposes
    llm_events = mem.events(loop.run_id, kinds="llm")
    assert llm_events and llm_events[0]["payload"]["total_tokens"] == 120
    assert "prompt" in llm_events[0]["payload"] and "reply" in llm_events[0]["payload"]
    assert {k.lower(): v for k, v in server.headers[0].items()}["authorization"] == f"Bearer {SECRET}"
    body = server.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert "image_sharpness_filter" in body["messages"][1]["content"]  # the op table is in the prompt


def test_malformed_json_repairs_once_then_falls_back(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    loop, mem, server = run_with([{"content": "sure! {not json"}], tmp_path, tiny_bench, synthetic_env, monkeypatch)
    assert fallbacks(mem, loop.run_id)
    repair = server.requests[1]["messages"][-1]["content"]
    assert "not valid JSON" in repair


def test_unknown_op_gets_repair_turn_with_the_error(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    script = [{"content": plan(op="magic_filter", param="min_magic")}, GOOD]
    loop, mem, server = run_with(script, tmp_path, tiny_bench, synthetic_env, monkeypatch)
    assert "unknown operator 'magic_filter'" in server.requests[1]["messages"][-1]["content"]
    assert "llm:image_sharpness_filter" in [e["purpose"] for e in mem.experiments(loop.run_id)]


@pytest.mark.parametrize(
    "bad", [plan(q=7.5), plan(q=-1), plan(param="max_width"), plan().replace('"value": 0.1', '"value": NaN')]
)
def test_out_of_range_params_fall_back(bad: str, tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    loop, mem, _ = run_with([{"content": bad}], tmp_path, tiny_bench, synthetic_env, monkeypatch)
    assert fallbacks(mem, loop.run_id)
    assert all(not e["purpose"].startswith("llm:") for e in mem.experiments(loop.run_id))


def test_timeout_falls_back(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    loop, mem, _ = run_with([{"sleep": 3}], tmp_path, tiny_bench, synthetic_env, monkeypatch, timeout_s=0.5)
    assert fallbacks(mem, loop.run_id)
    assert any("Timeout" in e["message"] for e in mem.events(loop.run_id, kinds="llm"))


def test_server_error_retries_then_falls_back(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    loop, mem, server = run_with([{"status": 500}], tmp_path, tiny_bench, synthetic_env, monkeypatch, max_retries=1)
    assert fallbacks(mem, loop.run_id)
    assert server.calls >= 2  # the client retried


def test_rate_limit_is_retried_with_backoff(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    loop, mem, server = run_with(
        [{"status": 429, "retry_after": 0}, GOOD], tmp_path, tiny_bench, synthetic_env, monkeypatch, max_retries=2
    )
    assert "llm:image_sharpness_filter" in [e["purpose"] for e in mem.experiments(loop.run_id)]
    # the 429 was retried by the client (same request again, marked as a retry), not answered by a fallback
    assert len(server.requests) >= 2 and server.requests[1] == server.requests[0]
    retry = {k.lower(): v for k, v in server.headers[1].items()}.get("x-stainless-retry-count")
    assert retry == "1"
    assert not fallbacks(mem, loop.run_id)


def test_empty_choices_reply_falls_back(tmp_path, tiny_bench, synthetic_env, monkeypatch) -> None:  # noqa: ANN001
    raw = {"raw": {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}}
    loop, mem, _ = run_with([raw], tmp_path, tiny_bench, synthetic_env, monkeypatch)
    assert fallbacks(mem, loop.run_id)
