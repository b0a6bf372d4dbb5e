"""The report in a real browser: headless Chromium opens it from file://, logs no console message, renders
a non-blank page, and its DOM holds the hostile text as text (no script, no event handler).

Console output is read from Chromium's own log (``--enable-logging=stderr --v=0``), where every console
message and uncaught exception of the page appears as a ``CONSOLE`` line; a control page that throws
proves the check sees errors with this Chromium build.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.report.conftest import FinishedRun

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (.ci/run installs it: apt-get install chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
CONSOLE_RE = re.compile(r"CONSOLE|Uncaught", re.IGNORECASE)


def chromium(tmp: Path, url: str, *args: str, timeout: float = 90) -> tuple[str, str]:
    """Run headless Chromium once on ``url``; returns (stdout, stderr). Its whole process group is
    killed on timeout, so no renderer is left behind."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, url]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {timeout}s")
    return out, err


def console_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if CONSOLE_RE.search(ln)]


def test_console_check_sees_errors(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><body><p>x</p><script>console.error("control-error");'
        'throw new Error("control-uncaught");</script></body></html>',
        encoding="utf-8",
    )
    _, err = chromium(tmp_path, page.as_uri(), f"--screenshot={tmp_path / 'bad.png'}", "--window-size=400,300")
    lines = console_lines(err)
    assert any("control-error" in ln for ln in lines), err[-2000:]
    assert any("Uncaught" in ln and "control-uncaught" in ln for ln in lines), err[-2000:]


def test_report_opens_cleanly_in_chromium(finished_run: FinishedRun, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    url = finished_run.report.resolve().as_uri()
    _, err = chromium(tmp_path, url, f"--screenshot={shot}", "--window-size=1200,2000")
    assert console_lines(err) == [], "console messages while loading the report:\n" + "\n".join(console_lines(err))
    assert shot.exists(), err[-2000:]
    with Image.open(io.BytesIO(shot.read_bytes())) as im:
        assert im.format == "PNG" and im.size == (1200, 2000)
        arr = np.asarray(im.convert("RGB"))
    packed = (arr[..., 0].astype(np.uint32) << 16) | (arr[..., 1].astype(np.uint32) << 8) | arr[..., 2]
    colours = len(np.unique(packed))
    assert colours > 50, f"screenshot looks blank ({colours} colours)"
    assert (arr.std(axis=(0, 1)) > 10).all()
    assert (arr < 128).any(axis=2).mean() > 0.01  # some dark ink: text and plots were drawn

    # The DOM as the browser parsed it: hostile text is text; no element runs anything.
    dom, err = chromium(tmp_path, url, "--dump-dom")
    assert console_lines(err) == []
    assert '<section id="recipe">' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom.lower()
    assert not re.search(r"<[^>]+\son\w+=", dom), "an element carries an event handler attribute"
    assert dom.count("<img") >= 5 and 'src="x"' not in dom
