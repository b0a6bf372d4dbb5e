"""Probe trainers: the `Trainer` protocol, probe spec/result types, one module per task, metrics."""

from recipelab.trainers.base import DEFAULT_PROBE, ProbeError, ProbeResult, ProbeSpec, Trainer, library_versions
from recipelab.trainers.clip import DEFAULT_MODEL, ClipTrainer, FittedClip
from recipelab.trainers.images import ImageBank, decode_images
from recipelab.trainers.metrics import recall_at_k, retrieval_metrics, zero_shot_accuracy
from recipelab.trainers.registry import TRAINERS, UnknownTaskError, make_trainer, task_names
from recipelab.trainers.tokenizer import ProbeTokenizer

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PROBE",
    "TRAINERS",
    "ClipTrainer",
    "FittedClip",
    "ImageBank",
    "ProbeError",
    "ProbeResult",
    "ProbeSpec",
    "ProbeTokenizer",
    "Trainer",
    "UnknownTaskError",
    "decode_images",
    "library_versions",
    "make_trainer",
    "task_names",
    "recall_at_k",
    "retrieval_metrics",
    "zero_shot_accuracy",
]
