"""A recipe as a config that Data-Juicer's ``dj-process`` runs unchanged, keeping the same samples.

``export_recipe`` writes three things:

- the Data-Juicer YAML: only Data-Juicer's top-level keys (``dataset_path``, ``export_path``, ``np`` when
  given), only ops Data-Juicer has, with Data-Juicer's parameter names and types (sizes as strings), and
  recipelab's provenance and notes as YAML comments (``dj-process`` rejects unknown keys);
- a side file ``<config stem>.recipelab.json`` for what Data-Juicer cannot run: recipelab-only ops
  (``image_sharpness_filter``, ``image_entropy_filter``, ``text_entropy_filter``), the proxy-CLIP
  ``image_text_similarity_filter`` (Data-Juicer's needs a real CLIP and scores on CLIP's scale), and any op
  that uses a recipelab extension param. For each: why, its thresholds with the quantile each sits at on
  the pool (so a user with a real CLIP can pick the same share), and, when the dataset is given, the ids it
  keeps; plus the ids the whole recipe keeps and the ids the Data-Juicer part alone should keep;
- the word lists the stopwords / flagged-words filters used, as Data-Juicer JSON assets in
  ``<config stem>.assets/`` (Data-Juicer would otherwise download its own lists, and decide differently).

Every op written to the config decides exactly as recipelab does by default; that is checked against the
real py-data-juicer in ``tests/dj``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from recipelab.data.reader import Dataset
from recipelab.operators.base import Deduplicator, Filter, Operator, Stats
from recipelab.operators.stats import StatsCache, compute_pipeline_stats
from recipelab.operators.text_kernels import load_words_asset
from recipelab.recipes import PROVENANCE_KEY, Recipe, apply_ops

#: Ops that read word lists: (param naming the folder, Data-Juicer's words_type).
_WORD_LIST_PARAMS = {
    "stopwords_filter": ("stopwords_dir", "stopwords"),
    "flagged_words_filter": ("flagged_words_dir", "flagged_words"),
}


#: recipe.extra key of dj-sandbox's rank bands (see `recipelab.agent.plan.RankBand`): not a Data-Juicer key.
RANK_BANDS = "rank_bands"


@dataclass
class LeftOutOp:
    """An op of the recipe that the Data-Juicer config does not contain, and why."""

    position: int  # 1-based position in the recipe's process list
    name: str
    params: dict[str, Any]
    reason: str
    #: {param, value, stat_key, side, quantile}: quantile = share of the pool's values below ``value``.
    thresholds: list[dict[str, Any]] = field(default_factory=list)
    kept_ids: list[str] | None = None  # samples this op alone keeps on the pool (None: no dataset given)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "position": self.position,
            "op": self.name,
            "params": self.params,
            "reason": self.reason,
            "thresholds": self.thresholds,
        }
        if self.kept_ids is not None:
            out["n_kept"] = len(self.kept_ids)
            out["kept_ids"] = self.kept_ids
        return out


@dataclass
class ExportResult:
    """What ``export_recipe`` wrote and what it left out."""

    config_path: Path
    dj_ops: list[str]
    left_out: list[LeftOutOp]
    side_path: Path | None = None
    assets_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    dj_kept_ids: list[str] | None = None  # what dj-process should keep (dataset given)
    recipe_kept_ids: list[str] | None = None  # what the whole recipe keeps in recipelab

    @property
    def complete(self) -> bool:
        """True when the Data-Juicer config is the whole recipe."""
        return not self.left_out

    def summary(self) -> str:
        """A few lines for a person (the CLI prints them)."""
        lines = [f"Data-Juicer config: {self.config_path} ({len(self.dj_ops)} op(s): {', '.join(self.dj_ops) or '-'})"]
        if self.left_out:
            lines.append(f"left out of the config ({len(self.left_out)}), see {self.side_path}:")
            for lo in self.left_out:
                lines.append(f"  - process[{lo.position}] {lo.name}: {lo.reason}")
        if self.dj_kept_ids is not None and self.recipe_kept_ids is not None:
            lines.append(
                f"dj-process should keep {len(self.dj_kept_ids)} sample(s); the whole recipe keeps "
                f"{len(self.recipe_kept_ids)} (ids in the side file)"
            )
        if self.assets_dir is not None:
            lines.append(f"word lists: {self.assets_dir}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def side_file_path(config_path: str | Path) -> Path:
    p = Path(config_path)
    return p.with_name(p.stem + ".recipelab.json")


def assets_dir_path(config_path: str | Path) -> Path:
    p = Path(config_path)
    return p.with_name(p.stem + ".assets")


def _threshold_rows(op: Operator, stats: Stats | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not isinstance(op, Filter):
        return rows
    for th in op.thresholds:
        bound = op.bound(th.param)
        row: dict[str, Any] = {
            "param": th.param,
            "value": getattr(op.params, th.param),
            "stat_key": th.stat_key,
            "side": th.side,
        }
        if stats is not None and bound is not None and th.stat_key in stats:
            vals = stats[th.stat_key].finite_values()
            row["quantile"] = round(float(np.mean(vals < bound)), 6) if len(vals) else None
        rows.append(row)
    return rows


def _own_mask(op: Operator, stats: Stats, n: int) -> np.ndarray:
    """The samples ``op`` alone keeps on the whole pool."""
    if isinstance(op, Filter):
        return op.keep(stats)
    assert isinstance(op, Deduplicator)
    labels = stats[op.hash_key].values
    return labels == np.arange(n)


def _word_list_assets(op: Operator, params: dict[str, Any], assets: Path) -> dict[str, Any]:
    """Write the word lists ``op`` uses as Data-Juicer JSON and point the op's folder param at them."""
    param, words_type = _WORD_LIST_PARAMS[op.name]
    lists = load_words_asset(words_type, getattr(op.params, param))
    assets.mkdir(parents=True, exist_ok=True)
    data = {lang: sorted(words) for lang, words in lists.items()}
    (assets / f"{words_type}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return {**params, param: str(assets.resolve())}


def _header(
    recipe: Recipe,
    provenance: dict[str, Any] | None,
    left_out: Sequence[LeftOutOp],
    side: Path | None,
    has_dataset_path: bool,
    notes: Sequence[str],
) -> str:
    lines = ["# Data-Juicer config exported by recipelab (recipe " + recipe.fingerprint() + ")."]
    if provenance:
        lines.append(f"# {PROVENANCE_KEY}: {json.dumps(provenance, default=str, ensure_ascii=False)}")
    if left_out:
        lines.append(
            f"# {len(left_out)} op(s) of the recipe are NOT in this config (Data-Juicer cannot run them as recipelab"
        )
        lines.append(f"# does); their thresholds, quantiles and kept ids are in {side.name if side else '-'}:")
        for lo in left_out:
            shown = ", ".join(
                f"{t['param']}={t['value']}" + (f" (q={t['quantile']:.3f})" if t.get("quantile") is not None else "")
                for t in lo.thresholds
            )
            lines.append(f"#   process[{lo.position}] {lo.name}: {lo.reason}")
            if shown:
                lines.append(f"#       thresholds: {shown}")
            if lo.name == "image_text_similarity_filter":
                lines.append("#       with a real CLIP, add e.g.:  - image_text_similarity_filter: {hf_clip: <path>,")
                lines.append("#       min_score: <the CLIP score at the same quantile>}")
    if not has_dataset_path:
        lines.append("# Set dataset_path, export_path and np before running: dj-process --config <this file>")
    lines.extend(f"# note: {n}" for n in notes)
    return "\n".join(lines) + "\n"


def export_recipe(
    recipe: Recipe,
    out: str | Path,
    *,
    dataset: Dataset | None = None,
    cache: StatsCache | None = None,
    workers: int = 1,
    dataset_path: str | Path | None = None,
    export_path: str | Path | None = None,
    np_workers: int | None = None,
    project_name: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> ExportResult:
    """Write ``recipe`` as a Data-Juicer config at ``out`` that ``dj-process`` runs unchanged.

    ``dataset`` (with its stats ``cache``): compute the kept ids of the ops left out and of the whole recipe,
    and the quantile of each left-out threshold, for the side file; without it the side file still says
    what was left out and why. ``dataset_path`` / ``export_path`` / ``np_workers`` become Data-Juicer's
    ``dataset_path`` / ``export_path`` / ``np``. ``provenance`` (merged over ``recipe.extra['recipelab']``)
    goes into a comment. Returns what was written and left out; nothing is left out silently.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ops = recipe.build_ops()
    stats: list[Stats | None] | None = None
    if dataset is not None:
        stats = compute_pipeline_stats(
            ops, dataset.samples, dataset.fingerprint, cache or StatsCache(None), workers=workers, quiet=True
        )
    prov = {**(recipe.extra.get(PROVENANCE_KEY) or {}), **(provenance or {})}
    assets = assets_dir_path(out)
    used_assets = False
    process: list[dict[str, Any]] = []
    left_out: list[LeftOutOp] = []
    dj_positions: list[int] = []
    notes: list[str] = []
    for i, (spec, op) in enumerate(zip(recipe.process, ops, strict=True)):
        reason = op.dj_unsupported_reason()
        st = stats[i] if stats is not None else None
        if reason:
            lo = LeftOutOp(i + 1, op.name, dict(spec.params), reason, _threshold_rows(op, st))
            if st is not None and dataset is not None:
                mask = _own_mask(op, st, len(dataset))
                lo.kept_ids = [s.id for s, k in zip(dataset.samples, mask, strict=True) if k]
            left_out.append(lo)
            continue
        params = type(op).dj_params(dict(spec.params))
        if op.name in _WORD_LIST_PARAMS:
            params = _word_list_assets(op, params, assets)
            used_assets = True
        process.append({op.name: params})
        dj_positions.append(i)
    if left_out and any(isinstance(op, Deduplicator) for op in ops[min(lo.position for lo in left_out) :]):
        notes.append(
            "a deduplicator runs after a left-out op: Data-Juicer keeps the first of each group among more "
            "samples, so its output filtered by the left-out ops' kept ids can differ from recipe_kept_ids"
        )

    config: dict[str, Any] = {}
    name = project_name or recipe.extra.get("project_name")
    if name:
        config["project_name"] = name
    if dataset_path is not None:
        config["dataset_path"] = str(dataset_path)
    if export_path is not None:
        config["export_path"] = str(export_path)
    if np_workers is not None:
        if np_workers < 1:
            raise ValueError("np_workers must be >= 1")
        config["np"] = int(np_workers)
    for k, v in recipe.extra.items():  # other Data-Juicer keys the recipe came with
        if k == RANK_BANDS:
            notes.append(
                "the recipe restricts the pool to equal-size rank bands of a stat (dj-sandbox pools), which a "
                "Data-Juicer process list cannot express: use recipe_kept_ids from the side file"
            )
        elif k not in (PROVENANCE_KEY, "project_name") and k not in config:
            config[k] = v
    config["process"] = process

    result = ExportResult(
        config_path=out,
        dj_ops=[next(iter(p)) for p in process],
        left_out=left_out,
        assets_dir=assets if used_assets else None,
        notes=notes,
    )
    if stats is not None and dataset is not None:
        n = len(dataset)
        full = apply_ops(ops, stats, n).kept
        dj_only = apply_ops([ops[i] for i in dj_positions], [stats[i] for i in dj_positions], n).kept
        result.recipe_kept_ids = [s.id for s, k in zip(dataset.samples, full, strict=True) if k]
        result.dj_kept_ids = [s.id for s, k in zip(dataset.samples, dj_only, strict=True) if k]
    if left_out or result.recipe_kept_ids is not None:
        result.side_path = side_file_path(out)
        side: dict[str, Any] = {
            "config": out.name,
            "recipe_fingerprint": recipe.fingerprint(),
            PROVENANCE_KEY: prov or None,
            "left_out": [lo.as_json() for lo in left_out],
            "notes": notes,
            "how_to_use": (
                "dj-process runs the config; to apply the left-out ops too, keep the samples of its output "
                "whose id is in every left_out[].kept_ids (or simply in recipe_kept_ids for this pool)"
            ),
        }
        if result.recipe_kept_ids is not None:
            side["dataset_fingerprint"] = dataset.fingerprint if dataset is not None else None
            side["dj_kept_ids"] = result.dj_kept_ids
            side["recipe_kept_ids"] = result.recipe_kept_ids
        else:
            side["note"] = "no dataset was given: kept ids and quantiles were not computed"
        result.side_path.write_text(json.dumps(side, indent=1, ensure_ascii=False, default=str), encoding="utf-8")

    header = _header(recipe, prov, left_out, result.side_path, dataset_path is not None, notes)
    out.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return result


__all__ = ["ExportResult", "LeftOutOp", "assets_dir_path", "export_recipe", "side_file_path"]
