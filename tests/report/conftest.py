"""Report fixtures: one finished synthetic run (no training) with hostile text in its log, and its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from recipelab.agent.loop import SearchLoop
from recipelab.config import SearchConfig
from recipelab.executors import InProcessExecutor
from recipelab.memory import Memory
from recipelab.workspace import Workspace
from tests.conftest import SyntheticEnv

#: Text that would run script if it reached the page unescaped.
INJECTION = "<script>alert(1)</script><img src=x onerror=alert(2)>"

OPS = [
    "text_length_filter",
    "words_num_filter",
    "stopwords_filter",
    "special_characters_filter",
    "image_aspect_ratio_filter",
    "image_shape_filter",
    "image_entropy_filter",
    "image_sharpness_filter",
    "image_deduplicator",
    "document_deduplicator",
]


@dataclass
class FinishedRun:
    ws: Workspace
    mem: Memory
    run_id: str
    report: Path
    html: str


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tiny_bench: Path) -> FinishedRun:  # noqa: F811
    from recipelab.report import write_report

    root = tmp_path_factory.mktemp("report")
    ws = Workspace.open(root / "ws")
    mem = Memory(ws.memory_path)
    cfg = SearchConfig(
        data=str(tiny_bench / "pool.jsonl"),
        eval=str(tiny_bench / "eval.jsonl"),
        test=str(tiny_bench / "test.jsonl"),
        ops=OPS,
        budget_probes=18,
        test_seeds=1,
    )
    loop = SearchLoop.create(ws, mem, cfg, quiet=True)
    env = SyntheticEnv(tiny_bench)
    loop.env, loop.executor = env, InProcessExecutor(env)
    # Steering from chat lands in the log before the first plan; hostile text must stay text.
    mem.add_directive(loop.run_id, "note", {"text": INJECTION}, source="chat")
    out = loop.run()
    assert out.status == "done"
    mem.log_event(loop.run_id, "error", f"probe failed: {INJECTION}", {"detail": INJECTION})
    mem.log_event(
        loop.run_id,
        "plan",
        f"rationale {INJECTION}",
        {
            "planner": "llm",
            "step": 99,
            "proposals": [
                {
                    "kind": "recipe",
                    "ops": [{"op": INJECTION, "params": [], "quantiles": []}],
                    "purpose": INJECTION,
                    "hypothesis": INJECTION,
                    "seeds": 1,
                }
            ],
        },
    )
    mem.log_event(
        loop.run_id,
        "llm",
        "plan: 1200+300 tokens, $0.0123",
        {
            "model": "test-model",
            "input_tokens": 1200,
            "output_tokens": 300,
            "total_tokens": 1500,
            "cost_usd": 0.0123,
            "reply": INJECTION,
        },
    )
    path = write_report(ws, mem, loop.run_id, root / "out" / "report.html")
    return FinishedRun(ws, mem, loop.run_id, path, path.read_text(encoding="utf-8"))
