"""Tasks by name: ``--task NAME`` resolves here. A new task is one module plus one entry.

Entries are import paths, not classes, so that listing tasks never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from recipelab.trainers.base import ProbeError

#: task name -> "module:Class" of its trainer.
TRAINERS: dict[str, str] = {
    "clip": "recipelab.trainers.clip:ClipTrainer",
    "caption": "recipelab.trainers.caption:CaptionTrainer",
    "t2i": "recipelab.trainers.t2i:T2ITrainer",
}


class UnknownTaskError(ProbeError, ValueError):
    """A ``--task`` that no trainer implements."""


def task_names() -> list[str]:
    return sorted(TRAINERS)


def check_task(task: str) -> str:
    if task not in TRAINERS:
        raise UnknownTaskError(f"task {task!r} is not available; known tasks: {', '.join(task_names())}")
    return task


def make_trainer(task: str) -> Any:
    """The trainer class of ``task`` (raises `UnknownTaskError` naming the known tasks)."""
    module, _, name = TRAINERS[check_task(task)].partition(":")
    return getattr(importlib.import_module(module), name)


def model_fingerprint_config(task: str) -> dict[str, Any]:
    """The task's built-in model configuration, part of every probe's cache key: changing the built-in
    model sizes must never silently reuse results measured with the old ones."""
    cls = make_trainer(task)
    fn = getattr(cls, "model_defaults", None)
    return dict(fn()) if callable(fn) else {}
