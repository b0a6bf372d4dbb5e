"""Chat: slash commands without an LLM, and the LangChain tool-calling agent against a real local
OpenAI-compatible server with scripted tool calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipelab.agent.chat import ChatSession
from recipelab.config import LLMConfig
from recipelab.memory import Memory
from tests.conftest import SyntheticEnv, make_synthetic_loop
from tests.fake_openai import FakeOpenAI

OPS = [
    "text_length_filter",
    "special_characters_filter",
    "image_shape_filter",
    "image_entropy_filter",
    "image_aspect_ratio_filter",
]


@pytest.fixture(scope="module")
def finished(tiny_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Memory, str]:
    loop = make_synthetic_loop(
        tmp_path_factory.mktemp("chat"), tiny_bench, SyntheticEnv(tiny_bench), ops=OPS, budget_probes=10, test_seeds=0
    )
    loop.run()
    return loop.mem, loop.run_id


def test_slash_commands_read_and_steer(finished) -> None:  # noqa: ANN001
    mem, rid = finished
    chat = ChatSession(mem, rid, llm=None)
    assert "probes 10/10" in chat.handle("/status")
    top = chat.handle("/top 3")
    assert top.count("\n") == 2 and "CI" in top
    eid = mem.experiments(rid)[2]["id"]
    ex = chat.handle(f"/explain {eid}")
    assert f"experiment #{eid}" in ex and "removed per op" in ex
    assert "CI" in chat.handle("/effects")
    cmp_ = chat.handle(f"/compare {mem.experiments(rid)[0]['id']} {eid}")
    assert "kept:" in cmp_
    assert "directive #" in chat.handle("/ban image_entropy_filter")
    assert "did you mean image_entropy_filter" in chat.handle("/ban image_entropy_filtr")
    assert "directive #" in chat.handle("/budget +5")
    assert "directive #" in chat.handle("/range image_shape_filter min_width 0 0.3")
    assert "error" in chat.handle("/range image_shape_filter min_width 0.5 0.1")
    assert "directive #" in chat.handle("/pause")
    assert "unknown command" in chat.handle("/frobnicate")
    assert "/budget" in chat.handle("/help")
    reply = chat.handle("I think blurry images matter most")
    assert "note" in reply
    kinds = [d["kind"] for d in mem.directives(rid)]
    assert kinds[-5:] == ["ban", "budget", "range", "pause", "note"]
    # history survives a new session (another process would see the same rows)
    again = ChatSession(mem, rid, llm=None)
    contents = [m["content"] for m in again.mem.messages(rid)]
    assert "I think blurry images matter most" in contents and "/status" in contents


def _tool_call(name: str, args: str, i: int = 1) -> dict:
    return {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}


def test_llm_agent_calls_tools(finished) -> None:  # noqa: ANN001
    mem, rid = finished
    script = [
        {"tool_calls": [_tool_call("status", "{}")]},
        {"content": "The run is done; the best recipe beats the baseline."},
        {"tool_calls": [_tool_call("ban", json.dumps({"op": "image_aspect_ratio_filter"}), 2)]},
        {"content": "Banned image_aspect_ratio_filter."},
    ]
    with FakeOpenAI(script) as server:
        chat = ChatSession(mem, rid, llm=LLMConfig(base_url=server.base_url, model="fake", timeout_s=10, max_retries=0))
        a = chat.handle("how is the run going?")
        assert "best recipe beats" in a
        # the tool result went back to the model
        assert any(m.get("role") == "tool" and "probes" in m.get("content", "") for m in server.requests[1]["messages"])
        b = chat.handle("please stop using the aspect ratio filter")
        assert "Banned" in b
        tools_sent = {t["function"]["name"] for t in server.requests[0]["tools"]}
        assert {
            "status",
            "top",
            "explain",
            "effects",
            "compare",
            "queue",
            "ban",
            "pin",
            "set_range",
            "budget",
            "pause",
            "resume",
            "stop",
            "note",
        } <= tools_sent
    d = mem.directives(rid)[-1]
    assert d["kind"] == "ban" and d["payload"] == {"op": "image_aspect_ratio_filter"} and d["source"] == "chat"
    tool_events = [e for e in mem.events(rid, kinds="tool")]
    assert [e["payload"]["tool"] for e in tool_events[-2:]] == ["status", "ban"]
    assert mem.events(rid, kinds="llm")[-1]["payload"]["total_tokens"] > 0


def test_llm_malformed_tool_call_is_reported_not_silent(finished) -> None:  # noqa: ANN001
    mem, rid = finished
    n_dirs = len(mem.directives(rid))
    with FakeOpenAI([{"tool_calls": [_tool_call("ban", "{not json")]}]) as server:
        chat = ChatSession(mem, rid, llm=LLMConfig(base_url=server.base_url, model="fake", timeout_s=10, max_retries=0))
        reply = chat.handle("ban something")
    assert "malformed" in reply
    assert len(mem.directives(rid)) == n_dirs  # nothing changed


def test_llm_bad_tool_arguments_are_rejected_by_validation(finished) -> None:  # noqa: ANN001
    mem, rid = finished
    script = [
        {
            "tool_calls": [
                _tool_call(
                    "set_range", json.dumps({"op": "image_shape_filter", "param": "rm -rf /", "low_q": 0, "high_q": 2})
                )
            ]
        },
        {"content": "done"},
    ]
    with FakeOpenAI(script) as server:
        chat = ChatSession(mem, rid, llm=LLMConfig(base_url=server.base_url, model="fake", timeout_s=10, max_retries=0))
        chat.handle("narrow the width range")
        tool_msgs = [m for m in server.requests[1]["messages"] if m.get("role") == "tool"]
    assert tool_msgs and tool_msgs[0]["content"].startswith("error:")


def test_llm_unreachable_gives_a_clear_message(finished) -> None:  # noqa: ANN001
    mem, rid = finished
    with FakeOpenAI([{"status": 500}]) as server:
        chat = ChatSession(mem, rid, llm=LLMConfig(base_url=server.base_url, model="fake", timeout_s=5, max_retries=0))
        reply = chat.handle("hello?")
    assert "could not be reached" in reply
    assert "/status" not in reply or "slash" in reply
