"""Image filters with Data-Juicer names, stat keys, params and defaults (data_juicer/ops/filter).

Stats are ragged: one value per image of a sample (``Stat.offsets``). An image that cannot be read
(missing, zero bytes, not an image, truncated) gets NaN, which fails every bound, so it counts as a
bad image; a sample without images is kept (see ``base.range_keep``).

Width, height, aspect ratio and file size read only headers / file metadata; sharpness and entropy
decode each image once, in grayscale, with PIL's JPEG ``draft`` and integer ``reduce`` above
``max_side`` so that huge photos do not dominate the cost.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image
from pydantic import field_validator

from recipelab.data.sample import Sample
from recipelab.operators.base import (
    MAXSIZE,
    AnyOrAll,
    Filter,
    FilterParams,
    Stat,
    Stats,
    Threshold,
)
from recipelab.operators.registry import register

log = logging.getLogger(__name__)

NAN = float("nan")


# --------------------------------------------------------------------------------------------- helpers


def ragged_per_image(
    samples: Sequence[Sample], fn: Callable[[str], tuple[float, ...]], n_out: int, op_name: str = ""
) -> list[Stat]:
    """Apply ``fn(path) -> n_out floats`` to every image; ``n_out`` ragged stats sharing offsets.

    ``fn`` returns NaNs for an unreadable image; the number of such images is logged."""
    counts = np.fromiter((len(s.images) for s in samples), dtype=np.int64, count=len(samples))
    offsets = np.zeros(len(samples) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    vals = np.empty((n_out, int(offsets[-1])), dtype=np.float64)
    j = 0
    for s in samples:
        for p in s.images:
            vals[:, j] = fn(p)
            j += 1
    bad = int(np.isnan(vals[0]).sum()) if vals.shape[1] else 0
    if bad:
        log.warning("%s: %d of %d images could not be read (stat NaN)", op_name, bad, vals.shape[1])
    return [Stat(vals[i], offsets.copy()) for i in range(n_out)]


#: EXIF orientations that rotate the image by 90 degrees (width and height swap once applied).
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112


def image_header_size(path: str) -> tuple[float, float]:
    """(width, height) from the file header only (PIL opens lazily and decodes nothing).

    As Data-Juicer, which loads images through ``datasets.Image`` and so applies the EXIF orientation:
    a photo stored landscape with orientation 6 ("rotate 90") is portrait there, and here too."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            # only where the header already holds EXIF: PNG's getexif() would decode the image to look
            # for a late eXIf chunk (such files are rare; Data-Juicer, decoding anyway, would see it)
            if "exif" in im.info or im.format in ("TIFF", "MPO"):
                if im.getexif().get(_EXIF_ORIENTATION) in _SWAPPING_ORIENTATIONS:
                    w, h = h, w
        if w <= 0 or h <= 0:
            return NAN, NAN
        return float(w), float(h)
    except Exception:  # unreadable image: any error at all must not stop the run
        return NAN, NAN


def load_gray(path: str, max_side: int = 0) -> np.ndarray | None:
    """Grayscale uint8 array, decoded once; longest side brought to <= ``max_side`` (0: no limit) by
    JPEG draft (DCT scaling) and an integer ``reduce``. None if the image cannot be decoded."""
    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                target = im.size
                if max_side and max(im.size) > max_side:
                    f = max(im.size) / max_side
                    target = (max(1, int(im.size[0] / f)), max(1, int(im.size[1] / f)))
                im.draft("L", target)
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                lo, hi = float(arr.min()), float(arr.max())
                scale = 255.0 / (hi - lo) if hi > lo else 0.0
                g = Image.fromarray(((arr - lo) * scale).astype(np.uint8))
            else:
                g = im.convert("L")
            if max_side and max(g.size) > max_side:
                g = g.reduce(math.ceil(max(g.size) / max_side))
            return np.asarray(g)
    except Exception:
        return None


def laplacian_variance(g: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian over the interior pixels (0..255 scale, as OpenCV's
    ``cv2.Laplacian(gray, CV_64F).var()`` minus the border)."""
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    f = g.astype(np.float32)
    lap = f[:-2, 1:-1] + f[2:, 1:-1] + f[1:-1, :-2] + f[1:-1, 2:] - 4.0 * f[1:-1, 1:-1]
    return float(lap.astype(np.float64).var())


def gray_entropy(g: np.ndarray) -> float:
    """Shannon entropy in bits of the 256-bin grayscale histogram (0 for a constant image, <= 8)."""
    if g.size == 0:
        return NAN
    c = np.bincount(g.ravel(), minlength=256).astype(np.float64)
    p = c[c > 0] / g.size
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


#: Data-Juicer 1.6.1's units (data_juicer/utils/mm_utils.py ``size_to_bytes``): all powers of 1024.
_DJ_UNIT_SHIFT = {
    "kb": 10, "kib": 10, "mb": 20, "mib": 20, "gb": 30, "gib": 30, "tb": 40, "tib": 40,
    "pb": 50, "pib": 50, "eb": 60, "eib": 60, "zb": 70, "zib": 70, "yb": 80, "yib": 80,
}  # fmt: skip


def size_to_bytes(size: str | int | float) -> int | float:
    """A size as Data-Juicer 1.6.1 reads it, bugs included; numbers are bytes (a recipelab extension).

    Data-Juicer keeps the *digits* of the string and the *letters* of it, separately: "10KB" is 10 * 1024
    (KB and KiB are both 1024), "1.5KB" is read as "15" KB = 15,360 bytes (the decimal point is dropped),
    "2 GB" is 2 GiB, "500" is 500 bytes; "1B", "10K" and "1e3" are errors (unknown units "b", "k", "e").
    Matched on purpose so a recipe decides the same here and in ``dj-process``; to say an exact or
    fractional size, give a number of bytes (the export writes it as a digits-only string)."""
    if isinstance(size, bool):
        raise TypeError("size must be a number of bytes or a string like '10KB'")
    if isinstance(size, int | float):
        if not math.isfinite(size) or size < 0:
            raise ValueError(f"size must be a finite number of bytes >= 0, got {size!r}")
        return size
    if not isinstance(size, str):
        raise TypeError(f"int, float or str expected but {type(size).__name__} found")
    letters = "".join(c for c in size if c.isalpha())
    digits = "".join(c for c in size if c.isdigit())
    if not digits:
        raise ValueError(f"size {size!r} has no digits; use e.g. '0', '500', '10KB', '2MiB'")
    number = int(float(digits))
    if not letters:
        return number
    shift = _DJ_UNIT_SHIFT.get(letters.lower())
    if shift is None:
        raise ValueError(
            f"unknown size unit {letters!r} in {size!r}: Data-Juicer takes KB, MB, GB, TB, PB, EB, ZB, YB or "
            "KiB..YiB (all powers of 1024, case-insensitive); or give a number of bytes"
        )
    return number << shift


def dj_size_string(value: int | float | str, side: str) -> str:
    """A size param as a string Data-Juicer reads to a bound that decides exactly as ``value`` does here.

    File sizes are whole bytes, so a fractional lower bound is its ceiling and an upper bound its floor;
    strings are kept as written (they already mean the same in both)."""
    if isinstance(value, str):
        return value
    b = size_to_bytes(value)
    return str(int(math.ceil(b)) if side == "min" else int(math.floor(b)))


# ------------------------------------------------------------------------------------------------ ops


class ImageAspectRatioParams(FilterParams):
    min_ratio: float = 0.333
    max_ratio: float = 3.0
    any_or_all: AnyOrAll = "any"


@register
class ImageAspectRatioFilter(Filter):
    """Keep samples whose image aspect ratio W / H is within [min_ratio, max_ratio] (per image, then
    ``any_or_all`` over a sample's images). Reads only image headers."""

    name = "image_aspect_ratio_filter"
    summary = "image aspect ratio W/H within [min_ratio, max_ratio]"
    modality = "image"
    Params = ImageAspectRatioParams
    stats_keys = ("aspect_ratios",)
    thresholds = (
        Threshold("min_ratio", "aspect_ratios", "min"),
        Threshold("max_ratio", "aspect_ratios", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        def ratio(p: str) -> tuple[float]:
            w, h = image_header_size(p)
            return (w / h,)

        (st,) = ragged_per_image(samples, ratio, 1, self.name)
        return {"aspect_ratios": st}


class ImageShapeParams(FilterParams):
    min_width: int = 1
    max_width: int = MAXSIZE
    min_height: int = 1
    max_height: int = MAXSIZE
    any_or_all: AnyOrAll = "any"


@register
class ImageShapeFilter(Filter):
    """Keep samples whose image width and height (pixels) are within their ranges; both must hold
    for an image to count as good. Reads only image headers."""

    name = "image_shape_filter"
    summary = "image width in [min_width, max_width] and height in [min_height, max_height]"
    modality = "image"
    Params = ImageShapeParams
    stats_keys = ("image_width", "image_height")
    thresholds = (
        Threshold("min_width", "image_width", "min"),
        Threshold("max_width", "image_width", "max"),
        Threshold("min_height", "image_height", "min"),
        Threshold("max_height", "image_height", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        w, h = ragged_per_image(samples, image_header_size, 2, self.name)
        return {"image_width": w, "image_height": h}


class ImageSizeParams(FilterParams):
    #: As Data-Juicer: strings with units ('0', '10KB', '2MiB', '1TB'; read by Data-Juicer's rules, see
    #: ``size_to_bytes``); numbers of bytes also accepted (an extension: what the threshold search writes,
    #: exported as digit strings).
    min_size: int | float | str = "0"
    max_size: int | float | str = "1TB"
    any_or_all: AnyOrAll = "any"

    @field_validator("min_size", "max_size")
    @classmethod
    def _parses(cls, v: int | float | str) -> int | float | str:
        size_to_bytes(v)
        return v


def _file_size(path: str) -> tuple[float]:
    try:
        return (float(os.path.getsize(path)),)
    except OSError:
        return (NAN,)


@register
class ImageSizeFilter(Filter):
    """Keep samples whose image file size in bytes is within [min_size, max_size]. Sizes are read as
    Data-Juicer 1.6.1 reads them ('10KB' = '10KiB' = 10240 bytes; '1.5KB' = 15360, its parser drops the
    decimal point: matched on purpose, see ``size_to_bytes``) or given as numbers of bytes. Reads only
    the file size (no decoding): a missing file is NaN, a zero-byte file is 0 bytes."""

    name = "image_size_filter"
    summary = "image file size in bytes within [min_size, max_size] ('10KB', '1MiB', ...)"
    modality = "image"
    Params = ImageSizeParams
    stats_keys = ("image_sizes",)
    thresholds = (
        Threshold("min_size", "image_sizes", "min"),
        Threshold("max_size", "image_sizes", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        (st,) = ragged_per_image(samples, _file_size, 1, self.name)
        return {"image_sizes": st}

    def bound(self, param: str) -> float | None:
        v = getattr(self.params, param)
        return None if v is None else float(size_to_bytes(v))

    @classmethod
    def dj_params(cls, params: dict[str, Any], keep_extensions: bool = False) -> dict[str, Any]:
        """Sizes as the strings Data-Juicer's preflight check demands (it rejects numbers)."""
        out = super().dj_params(params, keep_extensions)
        for key, side in (("min_size", "min"), ("max_size", "max")):
            if key in out and out[key] is not None:
                out[key] = dj_size_string(out[key], side)
        return out

    @classmethod
    def canonical_params(cls, dumped: dict[str, Any]) -> dict[str, Any]:
        """A number of bytes and the digit string it is saved as (1234.5 -> "1235") are the same recipe."""
        return cls.dj_params(super().canonical_params(dumped), keep_extensions=True)


class ImageSharpnessParams(FilterParams):
    min_sharpness: float = 0.0
    max_sharpness: float = float(MAXSIZE)
    any_or_all: AnyOrAll = "any"
    #: Images whose longest side exceeds this are downscaled (JPEG draft + integer reduce) before
    #: measuring; 0 = never. Changes the stat.
    max_side: int = 1024


@register
class ImageSharpnessFilter(Filter):
    """Keep samples whose image sharpness is within [min_sharpness, max_sharpness]. Sharpness is the
    variance of the 4-neighbour Laplacian of the grayscale image (pixel values 0..255): low for blurred,
    out-of-focus or upscaled images, 0 for flat ones. Not in Data-Juicer."""

    name = "image_sharpness_filter"
    summary = "variance of the Laplacian of the grayscale image (blur / upscaling) within a range"
    modality = "image"
    new_op = True
    Params = ImageSharpnessParams
    stats_keys = ("image_sharpness",)
    stat_params = ("max_side",)
    thresholds = (
        Threshold("min_sharpness", "image_sharpness", "min"),
        Threshold("max_sharpness", "image_sharpness", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        max_side = self.params.max_side

        def sharp(p: str) -> tuple[float]:
            g = load_gray(p, max_side)
            return (NAN,) if g is None else (laplacian_variance(g),)

        (st,) = ragged_per_image(samples, sharp, 1, self.name)
        return {"image_sharpness": st}


class ImageEntropyParams(FilterParams):
    min_entropy: float = 0.0
    max_entropy: float = 8.0
    any_or_all: AnyOrAll = "any"
    #: As for image_sharpness_filter: downscale above this longest side before measuring; 0 = never.
    max_side: int = 1024


@register
class ImageEntropyFilter(Filter):
    """Keep samples whose image entropy is within [min_entropy, max_entropy]: Shannon entropy in bits of
    the 256-bin grayscale histogram (0 for a blank image, at most 8). Catches blank, near-constant and
    posterised images. Not in Data-Juicer."""

    name = "image_entropy_filter"
    summary = "entropy (bits) of the grayscale histogram: blank / near-constant images score low"
    modality = "image"
    new_op = True
    Params = ImageEntropyParams
    stats_keys = ("image_entropy",)
    stat_params = ("max_side",)
    thresholds = (
        Threshold("min_entropy", "image_entropy", "min"),
        Threshold("max_entropy", "image_entropy", "max"),
    )

    def compute_stats(self, samples: Sequence[Sample]) -> Stats:
        max_side = self.params.max_side

        def ent(p: str) -> tuple[float]:
            g = load_gray(p, max_side)
            return (NAN,) if g is None else (gray_entropy(g),)

        (st,) = ragged_per_image(samples, ent, 1, self.name)
        return {"image_entropy": st}
