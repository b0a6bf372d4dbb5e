"""Decode every image once: a uint8 array (N, 3, s, s) per image size, cached on disk as .npy.

Images are converted to RGB, resized so the short side is `size` and centre-cropped (CLIP's
preprocessing). JPEGs are decoded with PIL's draft mode (DCT scaling), which makes a large image
nearly as cheap as a small one. An unreadable or corrupt image never stops a run: its row is zeros,
`ok[i]` is False and it is counted in `n_skipped`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

CACHE_VERSION = 1


def decode_image(path: str, size: int) -> np.ndarray:
    """One image -> uint8 (3, size, size). Raises on any decode problem."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale directly
        im = im.convert("RGB")
        w, h = im.size
        if w < 1 or h < 1:
            raise ValueError(f"empty image {w}x{h}")
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
        arr = np.asarray(im, dtype=np.uint8)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _decode_chunk(paths: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    for i, p in enumerate(paths):
        try:
            out[i] = decode_image(p, size)
            ok[i] = True
        except Exception as e:  # noqa: BLE001 - any decoder failure means "skip this image"
            log.debug("skipping image %s: %s", p, e)
    return out, ok


def decode_images(
    paths: Sequence[str], size: int, *, workers: int | None = None, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Decode `paths` in parallel threads (PIL releases the GIL while decoding and resizing)."""
    n = len(paths)
    pixels = np.zeros((n, 3, size, size), dtype=np.uint8)
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return pixels, ok
    workers = workers or min(8, os.cpu_count() or 1)
    starts = list(range(0, n, chunk))
    if workers <= 1 or len(starts) == 1:
        results = [_decode_chunk(paths[s : s + chunk], size) for s in starts]
    else:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(lambda s: _decode_chunk(paths[s : s + chunk], size), starts))
    for s, (px, k) in zip(starts, results, strict=True):
        pixels[s : s + len(k)] = px
        ok[s : s + len(k)] = k
    return pixels, ok


def _paths_digest(paths: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


class ImageBank:
    """Decoded pixels of a fixed list of image paths at one size.

    ``pixels``: uint8 (N, 3, size, size), memory-mapped when loaded from the cache;
    ``ok``: bool (N,), False where the image could not be read; ``n_skipped`` = (~ok).sum().

    With `cache_dir` and `key` (e.g. the dataset fingerprint), the arrays are saved as
    ``{cache_dir}/images-{key}-{size}px.npy`` (+ ``.ok.npy``, ``.json``) and loaded on the next
    construction instead of decoding again. The cache is only reused when it holds the same path list.
    """

    def __init__(
        self,
        paths: Iterable[str],
        size: int,
        *,
        cache_dir: str | os.PathLike | None = None,
        key: str | None = None,
        workers: int | None = None,
    ):
        self.paths: list[str] = list(dict.fromkeys(str(p) for p in paths))  # unique, order kept
        self.size = int(size)
        self.index: dict[str, int] = {p: i for i, p in enumerate(self.paths)}
        self.from_cache = False
        digest = _paths_digest(self.paths)
        base = None
        if cache_dir is not None and key is not None:
            base = Path(cache_dir) / f"images-{_safe(key)}-{self.size}px"
            loaded = self._load(base, digest)
            if loaded is not None:
                self.pixels, self.ok = loaded
                self.from_cache = True
                return
        self.pixels, self.ok = decode_images(self.paths, self.size, workers=workers)
        if base is not None:
            self._save(base, digest)
        if self.n_skipped:
            log.warning("%d of %d images could not be read and are skipped", self.n_skipped, len(self.paths))

    @classmethod
    def from_samples(cls, samples, size: int, **kwargs) -> ImageBank:
        """Bank of the first image of every sample (what the probes use)."""
        return cls((s.images[0] for s in samples if s.images), size, **kwargs)

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, path: str) -> bool:
        return path in self.index

    @property
    def n_skipped(self) -> int:
        return int((~self.ok).sum())

    def rows(self, paths: Sequence[str]) -> np.ndarray:
        """Row index of each path (KeyError when a path is not in the bank)."""
        return np.fromiter((self.index[p] for p in paths), dtype=np.int64, count=len(paths))

    def gather(self, paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(pixels (n, 3, s, s) uint8, ok (n,) bool) for `paths`, all of which must be in the bank."""
        r = self.rows(paths)
        return np.asarray(self.pixels[r]), self.ok[r]

    # ------------------------------------------------------------------ cache io
    def _load(self, base: Path, digest: str):
        meta_p, px_p, ok_p = _suffix(base, ".json"), _suffix(base, ".npy"), _suffix(base, ".ok.npy")
        try:
            meta = json.loads(meta_p.read_text())
            if meta.get("version") != CACHE_VERSION or meta.get("paths_sha256") != digest:
                log.info("image cache %s holds other paths; decoding again", base)
                return None
            pixels = np.load(px_p, mmap_mode="r")
            ok = np.load(ok_p)
        except (OSError, ValueError, json.JSONDecodeError):
            return None
        if pixels.shape != (len(self.paths), 3, self.size, self.size) or ok.shape != (len(self.paths),):
            return None
        return pixels, ok.astype(bool)

    def _save(self, base: Path, digest: str) -> None:
        base.parent.mkdir(parents=True, exist_ok=True)
        for arr, target in ((self.pixels, _suffix(base, ".npy")), (self.ok, _suffix(base, ".ok.npy"))):
            fd, tmp = tempfile.mkstemp(dir=base.parent, suffix=".npy.tmp")
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, target)
        meta = {
            "version": CACHE_VERSION,
            "size": self.size,
            "n": len(self.paths),
            "n_skipped": self.n_skipped,
            "paths_sha256": digest,
        }
        fd, tmp = tempfile.mkstemp(dir=base.parent, suffix=".json.tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f)
        os.replace(tmp, _suffix(base, ".json"))


def _suffix(base: Path, suffix: str) -> Path:
    return base.with_name(base.name + suffix)


def _safe(key: str) -> str:
    s = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(key))
    return s[:80] if len(s) <= 80 else s[:64] + "-" + hashlib.sha256(s.encode()).hexdigest()[:12]
