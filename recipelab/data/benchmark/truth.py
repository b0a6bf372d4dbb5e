"""The benchmark's truth, kept apart from the data: per-row labels, the oracle pool, measured shares.

Only scoring reads these (calibration, `bench score`, tests); no recipe or planner may, or the search
would be judged on knowledge it cannot have on a real dataset.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

from recipelab.data.sample import strip_special_tokens

CLEAN = "clean"


class TruthRow(BaseModel):
    """One pool row's truth: `label` is `clean` or a corruption family; traps are clean rows a careless
    filter removes (`careless_trap`), their kind first in `detail`."""

    id: str
    label: str
    careless_trap: bool = False
    detail: str = ""

    @property
    def trap_kind(self) -> str | None:
        """`busy_scene`, `small_image`, `terse_caption`, ... for a trap, else None."""
        return self.detail.split(":", 1)[0] if self.careless_trap else None


def _truth_path(path: str | Path) -> Path:
    path = Path(path)
    return path / "truth.jsonl" if path.is_dir() else path


def load_truth_rows(path: str | Path) -> list[TruthRow]:
    """Rows of `truth.jsonl` (`path` may be the benchmark folder)."""
    with _truth_path(path).open(encoding="utf-8") as f:
        return [TruthRow.model_validate_json(line) for line in f if line.strip()]


def load_truth(path: str | Path) -> dict[str, str]:
    """Pool id -> label (`clean` or a corruption family)."""
    return {r.id: r.label for r in load_truth_rows(path)}


def clean_ids(bench_dir: str | Path) -> list[str]:
    """Ids of every clean pool row (careless-filter traps included), in pool order."""
    return [r.id for r in load_truth_rows(bench_dir) if r.label == CLEAN]


def trap_ids(bench_dir: str | Path) -> list[str]:
    """Ids of the clean rows that a careless filter removes."""
    return [r.id for r in load_truth_rows(bench_dir) if r.careless_trap]


def caption_key(text: str) -> str:
    """What makes two captions the same for a contrastive loss: the text without Data-Juicer's special
    tokens, whitespace runs collapsed (the tokenizer would not tell them apart)."""
    return " ".join(strip_special_tokens(text).split())


def oracle_ids(bench_dir: str | Path, keep_one_per_flood: bool = False) -> list[str]:
    """The best pool the truth allows, as pool ids in pool order.

    Clean rows (traps included), with rows whose caption repeats an earlier kept row's caption dropped:
    two identical captions in one batch are false negatives for a contrastive loss (each is scored as
    the wrong caption of the other's image), so the collapsed pool is the better training set, and a
    recipe that deduplicates captions must not beat the "ceiling" for that reason alone.

    `keep_one_per_flood` also keeps the first row of each near-duplicate flood (its image and caption
    are correct; only the copies are noise), which is what a perfect image deduplicator keeps. Off by
    default, so the oracle is clean rows only.
    """
    bench_dir = Path(bench_dir)
    truth = {r.id: r for r in load_truth_rows(bench_dir)}
    seen_floods: set[str] = set()
    seen_captions: set[str] = set()
    out: list[str] = []
    with (bench_dir / "pool.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            t = truth[str(row["id"])]
            if t.label != CLEAN:
                if not (keep_one_per_flood and t.label == "near_duplicate" and t.detail not in seen_floods):
                    continue
                seen_floods.add(t.detail)
            key = caption_key(row["text"])
            if key in seen_captions:
                continue
            seen_captions.add(key)
            out.append(t.id)
    return out


def truth_shares(bench_dir: str | Path) -> dict[str, float]:
    """Measured share of the pool per truth label, and per trap kind as `trap:<kind>` (traps are also
    counted in `clean`), for checking a generated benchmark against its scenario's rates."""
    rows = load_truth_rows(bench_dir)
    n = max(len(rows), 1)
    counts = Counter(r.label for r in rows)
    counts.update(f"trap:{r.trap_kind}" for r in rows if r.careless_trap)
    return {k: v / n for k, v in sorted(counts.items())}
