"""The HTML report: every section, valid inline PNGs, and no unescaped text from the memory."""

from __future__ import annotations

import base64
import html
import io
import re
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from recipelab.memory import Memory
from recipelab.report import SECTIONS, render_report, write_report
from recipelab.workspace import Workspace
from tests.conftest import SyntheticEnv, make_synthetic_loop
from tests.report.conftest import INJECTION, FinishedRun

IMG_RE = re.compile(r'<img src="(data:[^"]*)"')


def test_every_section_is_present_and_rendered(finished_run: FinishedRun) -> None:
    page = finished_run.html
    assert page.startswith("<!DOCTYPE html>")
    for sid, title in SECTIONS:
        assert f'<section id="{sid}"><h2>{html.escape(title)}</h2>' in page
    assert "could not be rendered" not in page
    s = (finished_run.mem.get_run(finished_run.run_id) or {})["summary"]
    # header
    assert finished_run.run_id in page and "probe budget spent" in page
    assert html.escape(s["best_recipe"]) in page
    # progress, effects, distributions, thresholds: a plot each
    for sid in ("progress", "effects", "distributions", "thresholds"):
        body = page.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]
        assert 'src="data:image/png;base64,' in body, sid
    # final recipe: YAML, kept counts per op (summing to the kept size), test split
    recipe = page.split('<section id="recipe">', 1)[1].split("</section>", 1)[0]
    assert "process:" in recipe and "<th>remaining</th>" in recipe
    for r in s["best"]["removed"]:
        assert f"<td>{html.escape(r['op'])}</td><td class=n>{r['removed']}</td>" in recipe
    assert f"<td class=n>{s['best']['kept']}</td></tr></tbody>" in recipe
    assert "Test split" in recipe and "gain over the baseline" in recipe
    # timeline: plans with their proposals' purposes, the directive, the final decision
    timeline = page.split('<section id="timeline">', 1)[1].split("</section>", 1)[0]
    assert "screen:" in timeline and "final recipe:" in timeline and "applied directive" in timeline
    # LLM totals from the llm event
    llm = page.split('<section id="llm">', 1)[1].split("</section>", 1)[0]
    assert "1,200" in llm and "300" in llm and "$0.0123" in llm and "test-model" in llm
    # Optuna: importances or an explicit "not enough trials"; the dashboard command with the absolute path
    optuna = page.split('<section id="optuna">', 1)[1].split("</section>", 1)[0]
    assert "importance" in optuna or "not enough trials" in optuna
    path = (finished_run.ws.root / "optuna.sqlite").resolve()
    assert html.escape(f"optuna-dashboard sqlite:///{path}") in page


def test_images_are_inline_valid_pngs(finished_run: FinishedRun) -> None:
    uris = IMG_RE.findall(finished_run.html)
    assert len(uris) >= 5
    for uri in uris:
        assert uri.startswith("data:image/png;base64,")
        raw = base64.b64decode(uri.split(",", 1)[1], validate=True)
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()
        with Image.open(io.BytesIO(raw)) as im:
            assert im.format == "PNG" and im.width > 100 and im.height > 100
            assert len(im.convert("RGB").getcolors(1 << 20) or []) > 3  # a plot, not a blank
    # self-contained: no external resource of any kind
    assert not re.search(r'(src|href)="(?!data:|#)', finished_run.html)
    assert "<link" not in finished_run.html and "<script" not in finished_run.html.lower()


def test_text_from_the_memory_is_escaped(finished_run: FinishedRun) -> None:
    page = finished_run.html
    escaped = html.escape(INJECTION)
    assert escaped in page  # shown, as text (directive payload, plan, error, LLM reply)
    assert page.count(escaped) >= 5
    rest = page.replace(escaped, "")
    assert "<script" not in rest.lower()
    assert "onerror" not in rest.lower()
    assert "alert(" not in rest
    # the page forbids script even if something slipped through
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_report_of_a_run_with_nothing_yet(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    mem = Memory(ws.memory_path)
    run_id = mem.create_run({"data": str(tmp_path / "gone.jsonl"), "eval": "e.jsonl"}, {"probes": 5})
    page = render_report(ws, mem, run_id)
    assert "could not be rendered" not in page
    assert "no probes yet" in page
    assert "no LLM calls" in page
    assert "no final recipe yet" in page
    assert "not enough trials" in page
    with pytest.raises(KeyError):
        render_report(ws, mem, "r-nope")


def test_missing_pool_skips_distributions_with_a_note(finished_run: FinishedRun, tmp_path: Path) -> None:
    # a copy of the memory whose run points at a pool that is gone (the stats cache is shared)
    copy = tmp_path / "memory.sqlite"
    src = sqlite3.connect(finished_run.mem.path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    mem = Memory(copy)
    run = mem.get_run(finished_run.run_id)
    mem.update_run(finished_run.run_id, config={**run["config"], "data": str(tmp_path / "moved.jsonl")})
    out = write_report(finished_run.ws, mem, finished_run.run_id, tmp_path / "sub" / "r.html")
    page = out.read_text(encoding="utf-8")
    dist = page.split('<section id="distributions">', 1)[1].split("</section>", 1)[0]
    assert "is gone" in dist and "<img" not in dist
    assert "could not be rendered" not in page
    assert 'src="data:image/png;base64,' in page.split('<section id="progress">', 1)[1]


def test_progress_ends_at_the_chosen_recipe(finished_run: FinishedRun) -> None:
    from recipelab.report import data as rd

    s = (finished_run.mem.get_run(finished_run.run_id) or {})["summary"]
    pts = rd.progress(finished_run.mem, finished_run.run_id)
    assert len(pts) == s["probes"]  # test-split probes are not part of the curve
    assert [p.index for p in pts] == list(range(1, len(pts) + 1))
    assert pts[-1].best_mean == pytest.approx(s["best"]["eval_mean"])
    assert pts[-1].best_lo == pytest.approx(s["best"]["eval_ci90"][0])
    assert all(p.t_s is not None and p.t_s >= 0 for p in pts)
    sparse = rd.progress(finished_run.mem, finished_run.run_id, max_points=4)
    assert sparse[-1].best_mean == pytest.approx(pts[-1].best_mean)


def test_llm_totals_tolerate_missing_fields() -> None:
    from recipelab.report.data import llm_totals

    evs = [
        {"kind": "llm", "payload": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.5, "model": "m"}},
        {"kind": "llm", "payload": {"error": "timeout", "total_tokens": 0}},
        {"kind": "llm", "payload": None},
        {"kind": "plan", "payload": {"input_tokens": 999}},
    ]
    t = llm_totals(evs)
    assert (t.calls, t.failed, t.input_tokens, t.output_tokens, t.total_tokens) == (3, 1, 10, 5, 15)
    assert t.cost_usd == pytest.approx(0.5) and t.models == ["m"]


def test_reuse_section_shows_the_warm_start_and_the_surrogate(tmp_path: Path, tiny_bench: Path) -> None:
    first = make_synthetic_loop(tmp_path, tiny_bench, SyntheticEnv(tiny_bench), budget_probes=20, test_seeds=0)
    first.run()
    page = render_report(first.ws, first.mem, first.run_id)
    assert "no warm start" in page
    assert "Spearman" in page and "surrogate predictions vs measured" in page  # its own search had a surrogate
    second = make_synthetic_loop(tmp_path, tiny_bench, SyntheticEnv(tiny_bench), budget_probes=6, test_seeds=0, seed=1)
    second.run()
    page = render_report(second.ws, second.mem, second.run_id)
    assert f"warm start from run {first.run_id}" in page
    assert "re-measured here" in page and "warm:0" in page
