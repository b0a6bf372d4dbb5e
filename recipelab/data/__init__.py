"""Datasets: the Sample model, validated reading, writing, fingerprints, the built-in benchmark."""

from recipelab.data.reader import DataError, Dataset, Reject, read_dataset
from recipelab.data.sample import EOC_TOKEN, IMAGE_TOKEN, Sample
from recipelab.data.writer import write_jsonl

__all__ = ["DataError", "Dataset", "EOC_TOKEN", "IMAGE_TOKEN", "Reject", "Sample", "read_dataset", "write_jsonl"]
