"""Write samples back as Data-Juicer JSONL (image paths relative to the output file where possible)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from recipelab.data.sample import Sample


def sample_to_row(s: Sample, out_dir: Path, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": s.id, "text": s.text}
    imgs = []
    for p in s.images:
        try:
            imgs.append(os.path.relpath(p, out_dir))
        except ValueError:  # other drive on Windows
            imgs.append(p)
    row["images"] = imgs
    row.update(s.extra)
    if stats:
        row["__dj__stats__"] = stats
    return row


def write_jsonl(
    samples: Iterable[Sample], path: str | Path, stats: Iterable[dict[str, Any] | None] | None = None
) -> int:
    """Write rows atomically (tmp + rename) so an interrupted write never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out_dir = path.parent.resolve()
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    stats_it = iter(stats) if stats is not None else None
    with open(tmp, "w", encoding="utf-8") as f:
        for s in samples:
            st = next(stats_it) if stats_it is not None else None
            f.write(json.dumps(sample_to_row(s, out_dir, st), ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n
