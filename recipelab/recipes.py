"""Recipes: an ordered list of ops with params, in Data-Juicer's YAML format, and applying one to stats.

``apply`` works on cached stats only, so evaluating a recipe costs milliseconds and the search can
look at thousands of them before spending a probe.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, Field, ValidationError

from recipelab.operators.base import Deduplicator, Filter, Mapper, Operator, Stats
from recipelab.operators.registry import UnknownOperatorError, get_op_class

#: ``Recipe.extra`` key for recipelab's provenance (run, scores, seeds). Data-Juicer's ``dj-process``
#: rejects unknown top-level keys, so it is written as a YAML comment, never as a key.
PROVENANCE_KEY = "recipelab"
_PROVENANCE_LINE = re.compile(rf"^# {PROVENANCE_KEY}: (\{{.*\}})\s*$", re.MULTILINE)


class RecipeError(ValueError):
    """An invalid recipe; the message names the file, the op (position and name) and the field."""


class OpSpec(BaseModel):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class Recipe(BaseModel):
    """Data-Juicer recipe: ``process`` is the op list; other top-level keys are kept untouched."""

    process: list[OpSpec] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    # ------------------------------------------------------------------ Data-Juicer YAML
    @classmethod
    def from_dj(cls, data: Any, source: str = "<recipe>") -> Recipe:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RecipeError(f"{source}: expected a mapping with a 'process' list")
        proc = data.get("process", [])
        if proc is None:
            proc = []
        if not isinstance(proc, list):
            raise RecipeError(f"{source}: 'process' must be a list of {{op_name: {{params}}}}")
        ops = []
        for i, item in enumerate(proc, start=1):
            if isinstance(item, str):
                ops.append(OpSpec(name=item))
                continue
            if not isinstance(item, dict) or len(item) != 1:
                raise RecipeError(f"{source}: process[{i}]: expected one {{op_name: {{params}}}} mapping")
            ((name, params),) = item.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise RecipeError(f"{source}: process[{i}] {name}: params must be a mapping")
            ops.append(OpSpec(name=str(name), params=params))
        extra = {k: v for k, v in data.items() if k != "process"}
        recipe = cls(process=ops, extra=extra)
        recipe.validate_ops(source)
        return recipe

    @classmethod
    def from_yaml(cls, text: str, source: str = "<recipe>") -> Recipe:
        """A recipe from Data-Juicer YAML; provenance written by ``to_yaml`` as a comment is read back."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise RecipeError(f"{source}{where}: invalid YAML ({getattr(e, 'problem', e)})") from None
        recipe = cls.from_dj(data, source)
        m = _PROVENANCE_LINE.search(text)
        if m and PROVENANCE_KEY not in recipe.extra:
            try:
                recipe.extra[PROVENANCE_KEY] = json.loads(m.group(1))
            except json.JSONDecodeError:
                pass  # a hand-edited comment: provenance is informative only
        return recipe

    @classmethod
    def load(cls, path: str | Path) -> Recipe:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise RecipeError(f"{p}: cannot read recipe ({e.strerror})") from None
        return cls.from_yaml(text, source=str(p))

    def to_dj(self) -> dict[str, Any]:
        """The recipe as a Data-Juicer config mapping: top-level keys except the provenance (which
        Data-Juicer would reject), params in Data-Juicer's types (sizes as strings). recipelab-only ops
        and extension params are kept: this is still recipelab's recipe; ``recipelab.export`` is what
        writes a config that ``dj-process`` runs with the same decisions."""
        out = {k: v for k, v in self.extra.items() if k != PROVENANCE_KEY}
        out["process"] = [{op.name: _dj_typed(op.name, op.params)} for op in self.process]
        return out

    def provenance_comment(self) -> str:
        """The provenance as YAML comment lines ('' when there is none), read back by ``from_yaml``."""
        prov = self.extra.get(PROVENANCE_KEY)
        if prov is None:
            return ""
        return (
            "# Written by recipelab; provenance is a comment because dj-process rejects unknown keys.\n"
            f"# {PROVENANCE_KEY}: {json.dumps(prov, default=str, ensure_ascii=False)}\n"
        )

    def to_yaml(self) -> str:
        """Data-Juicer YAML: provenance as comments, never as a key."""
        return self.provenance_comment() + yaml.safe_dump(self.to_dj(), sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    # ------------------------------------------------------------------ identity
    def canonical_json(self) -> str:
        """Ops with params filled in with defaults, so `{min_len: 10}` and `{}` hash the same."""
        ops = self.build_ops()
        canon: list = [[o.name, type(o).canonical_params(o.params.model_dump(mode="json"))] for o in ops]
        if self.extra.get("rank_bands"):  # equal-size rank pools (dj-sandbox) are part of what a recipe keeps
            canon.append(["rank_bands", self.extra["rank_bands"]])
        return json.dumps(canon, sort_keys=True)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    # ------------------------------------------------------------------ ops
    def validate_ops(self, source: str = "<recipe>") -> None:
        self.build_ops(source)

    def build_ops(self, source: str = "<recipe>") -> list[Operator]:
        ops: list[Operator] = []
        for i, spec in enumerate(self.process, start=1):
            try:
                cls = get_op_class(spec.name)
            except UnknownOperatorError as e:
                raise RecipeError(f"{source}: process[{i}]: {e}") from None
            try:
                ops.append(cls(spec.params))
            except ValidationError as e:
                err = e.errors()[0]
                field = ".".join(str(x) for x in err["loc"]) or "<params>"
                raise RecipeError(f"{source}: process[{i}] {spec.name}: field {field}: {err['msg']}") from None
        return ops

    def describe(self) -> str:
        if not self.process:
            return "(no filter)"
        parts = []
        for op in self.process:
            ps = ", ".join(f"{k}={_short(v)}" for k, v in op.params.items())
            parts.append(f"{op.name}({ps})")
        return " → ".join(parts)


def _dj_typed(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with values in Data-Juicer's types; unknown op names are left as they are."""
    try:
        cls = get_op_class(name)
    except UnknownOperatorError:
        return dict(params)
    return cls.dj_params(dict(params), keep_extensions=True)


def _short(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) >= 1e15:
        return "inf" if v > 0 else "-inf"  # Data-Juicer's sys.maxsize "no bound"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@dataclass
class ApplyResult:
    kept: np.ndarray  # boolean mask over the pool
    removed: list[tuple[str, int]]  # (op name, samples that op removed), in recipe order
    seconds: float

    @property
    def kept_indices(self) -> np.ndarray:
        return np.flatnonzero(self.kept)

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())


def prune_noops(recipe: Recipe, result: ApplyResult) -> tuple[Recipe, list[str]]:
    """``recipe`` without the filters and deduplicators that removed nothing where they stand.

    ``result`` is ``recipe`` applied to a pool. An op that removed nothing leaves the kept set it was
    given unchanged, so every later op sees the same input and the pool keeps exactly the same samples
    without it. Searches end with such ops (a tuned threshold beyond every value, a deduplicator after
    another one that caught the same groups), and a recipe a person reads should not carry them.
    Mappers change text and are never dropped, nor is an op a rank band refers to (the band restricts the
    pool apart from the op's thresholds). Returns the pruned copy and the dropped op names, in order.
    """
    if len(result.removed) != len(recipe.process):
        raise ValueError(f"{len(result.removed)} removal counts for a recipe of {len(recipe.process)} ops")
    banded = {b.get("op") for b in recipe.extra.get("rank_bands") or []}
    kept_ops: list[OpSpec] = []
    dropped: list[str] = []
    for op, (name, removed) in zip(recipe.process, result.removed, strict=True):
        cls = get_op_class(op.name)
        if removed == 0 and issubclass(cls, (Filter, Deduplicator)) and op.name not in banded and name == op.name:
            dropped.append(op.name)
        else:
            kept_ops.append(op)
    return recipe.model_copy(update={"process": kept_ops}, deep=True), dropped


def apply_ops(
    ops: Sequence[Operator], stats: Sequence[Stats | None], n: int, keep: np.ndarray | None = None
) -> ApplyResult:
    """Run the pipeline on stats: each filter's mask is AND-ed in order; a deduplicator keeps the first
    *still kept* sample of each group (Data-Juicer dedups the dataset as it is at that point).
    ``keep``: the samples the pipeline starts from (default all; a rank band restricts it first)."""
    t0 = time.perf_counter()
    kept = np.ones(n, dtype=bool) if keep is None else keep.astype(bool).copy()
    removed: list[tuple[str, int]] = []
    for op, st in zip(ops, stats, strict=True):
        before = int(kept.sum())
        if isinstance(op, Mapper):
            removed.append((op.name, 0))
            continue
        assert st is not None, f"no stats for {op.name}"
        if isinstance(op, Filter):
            kept &= op.keep(st)
        elif isinstance(op, Deduplicator):
            labels = st[op.hash_key].values
            idx = np.flatnonzero(kept)
            _, first = np.unique(labels[idx], return_index=True)
            new = np.zeros(n, dtype=bool)
            new[idx[first]] = True
            kept = new
        removed.append((op.name, before - int(kept.sum())))
    return ApplyResult(kept=kept, removed=removed, seconds=time.perf_counter() - t0)
