"""Report fixtures: one finished synthetic run (no training) with hostile text in its log, and its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from recipelab.memory import Memory
from recipelab.workspace import Workspace
from tests.conftest import SyntheticEnv, make_synthetic_loop

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
    loop = make_synthetic_loop(root, tiny_bench, SyntheticEnv(tiny_bench), ops=OPS, budget_probes=18, test_seeds=1)
    ws, mem = loop.ws, loop.mem
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
