"""The in-memory form of one Data-Juicer row.

Paths are resolved to absolute ones at read time so that every later stage (operators, trainers,
writers) can work without knowing where the JSONL file lived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMAGE_TOKEN = "<__dj__image>"
VIDEO_TOKEN = "<__dj__video>"
EOC_TOKEN = "<|__dj__eoc|>"
SPECIAL_TOKENS = (IMAGE_TOKEN, VIDEO_TOKEN, EOC_TOKEN)


@dataclass(slots=True)
class Sample:
    """One row: its text, absolute image paths, and every other field kept untouched."""

    id: str
    text: str
    images: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # "file:line" where the row came from, for error messages

    def plain_text(self) -> str:
        """Text with Data-Juicer's special tokens removed (what text ops should measure)."""
        return strip_special_tokens(self.text)

    def chunks(self) -> list[tuple[str, list[str]]]:
        """(chunk text, chunk images) pairs.

        Data-Juicer splits on `<|__dj__eoc|>` and gives each chunk the images its `<__dj__image>`
        tokens refer to, in order. A row without any image token is one chunk holding all images
        (the usual caption dataset), which Data-Juicer would skip; we score it.
        """
        if IMAGE_TOKEN not in self.text:
            return [(self.plain_text().strip(), list(self.images))]
        out: list[tuple[str, list[str]]] = []
        idx = 0
        for raw in self.text.split(EOC_TOKEN):
            if not raw.strip():
                continue
            n = raw.count(IMAGE_TOKEN)
            imgs = self.images[idx : idx + n]
            idx += n
            out.append((strip_special_tokens(raw).strip(), imgs))
        return out


def strip_special_tokens(text: str) -> str:
    for tok in SPECIAL_TOKENS:
        if tok in text:
            text = text.replace(tok, "")
    return text
