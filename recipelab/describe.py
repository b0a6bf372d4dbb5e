"""What the command line shows, as plain data: operators, recipes, metrics and a probe's result.
analyze/apply jobs that write files.

The CLI only parses and prints; everything it prints that is computed (an operator's description, the
meaning of a metric, which number of a probe is the headline) is built here, so that it has one
definition, is testable without a terminal, and is reusable by other front ends (a notebook, a report).

Layer: just under the CLI. It imports operators, recipes, trainers' plain types, the workspace and the
analyze/apply modules; never the agent or the report.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

# ============================================================================ operators


def op_info(name: str) -> dict[str, Any]:
    """Everything a user needs to write an op into a recipe: kind, params with defaults and types, the
    stats keys it reads and which params bound which key. Raises `UnknownOperatorError` (with a
    did-you-mean hint) for an unknown name."""
    from recipelab.operators.registry import get_op_class

    cls = get_op_class(name)
    params = {}
    for pname, f in cls.Params.model_fields.items():
        params[pname] = {
            "type": getattr(f.annotation, "__name__", str(f.annotation)),
            "default": f.get_default(call_default_factory=True),
            "description": f.description or "",
        }
    info: dict[str, Any] = {
        "name": cls.name,
        "kind": cls.kind,
        "modality": cls.modality,
        "summary": cls.summary,
        "new_op": cls.new_op,
        "params": params,
        "stat_params": list(cls.stat_params),
        "doc": (cls.__doc__ or "").strip(),
    }
    if cls.kind == "filter":
        info["stats_keys"] = list(cls.stats_keys)  # type: ignore[attr-defined]
        info["thresholds"] = [
            {"param": t.param, "stat_key": t.stat_key, "side": t.side}
            for t in cls.thresholds  # type: ignore[attr-defined]
        ]
    elif cls.kind == "deduplicator":
        info["hash_key"] = cls.hash_key  # type: ignore[attr-defined]
    return info


def all_op_infos() -> list[dict[str, Any]]:
    """`op_info` of every registered operator, sorted by name."""
    from recipelab.operators.registry import all_ops

    return [op_info(n) for n in all_ops()]


# ============================================================================ recipes


def recipe_description(recipe: dict[str, Any] | None) -> str:
    """One line for a stored recipe (Data-Juicer dict); ``?`` when it no longer parses (an op renamed since
    the probe ran must not break a listing of old experiments)."""
    from recipelab.recipes import Recipe

    try:
        return Recipe.from_dj(recipe or {}).describe()
    except ValueError:
        return "?"


# ============================================================================ metrics

_DIRECTION = {"i2t": "image->text", "t2i": "text->image"}

#: Fixed names; parametrised ones (``i2t_r@k``, ``recall@k``, ``zeroshot_<attribute>``) are matched below.
METRIC_MEANINGS: dict[str, str] = {
    "mean_recall": (
        "mean of the four directional retrieval recalls on the eval split: image->text recall@1, "
        "image->text recall@5, text->image recall@1 and text->image recall@5 (not recall@1 alone)"
    ),
    "zeroshot": "mean zero-shot accuracy over the eval split's labelled attributes",
}


def metric_meaning(name: str) -> str:
    """What a probe metric measures, in words (the definitions of `recipelab.trainers.metrics`); empty
    for a metric this module does not know."""
    if name in METRIC_MEANINGS:
        return METRIC_MEANINGS[name]
    if m := re.fullmatch(r"(i2t|t2i)_r@(\d+)", name):
        return f"{_DIRECTION[m[1]]} recall@{m[2]}: share of eval queries whose true match ranks in the top {m[2]}"
    if m := re.fullmatch(r"recall@(\d+)", name):
        return f"mean of image->text and text->image recall@{m[1]}"
    if m := re.fullmatch(r"zeroshot_(.+)", name):
        return f"zero-shot accuracy on the eval label {m[1]!r} (nearest class text embedding)"
    return ""


def default_primary_metric() -> str:
    """The headline metric a probe reports when its result does not say (the `ProbeSpec` default)."""
    from recipelab.trainers.base import ProbeSpec

    return str(ProbeSpec.model_fields["primary_metric"].default)


# ============================================================================ probes


def probe_document(run_id: str, exp: dict[str, Any], pool_size: int) -> dict[str, Any]:
    """One probe as a JSON document: each metric once (under ``metrics``; the trainer's ``result`` without
    its copy of them), and the headline named (``primary_metric``, ``primary_value``,
    ``primary_meaning``) so that no reader takes ``recall@1`` or ``mean_recall`` for the other."""
    res = dict(exp.get("result") or {})
    metrics = exp.get("metrics") or res.get("metrics") or {}
    res.pop("metrics", None)
    primary = str(res.get("primary_metric") or default_primary_metric())
    value = exp.get("primary_value")
    return {
        "run_id": run_id,
        "experiment": exp["id"],
        "status": exp["status"],
        "error": exp.get("error"),
        "kept": exp.get("kept_size"),
        "pool": pool_size,
        "cache_hit": exp.get("cached_from") is not None,
        "primary_metric": primary,
        "primary_value": value if value is not None else metrics.get(primary),
        "primary_meaning": metric_meaning(primary),
        "metrics": metrics,
        "result": res,
    }
