"""Read and validate datasets: Data-Juicer JSONL, Parquet, or a folder of image + .txt pairs.

Every row is validated (JSON, types, text, every image fully decoded) because a bad row found later,
inside a training probe, costs far more than one found here. The outcome of validation, the image
content hashes and the dataset fingerprint are cached by file size and mtime, so a second read of an
unchanged dataset decodes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from rich.console import Console

from recipelab.data.sample import Sample

OnError = Literal["skip", "fail"]
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif")
_CACHE_VERSION = 2


class DataError(ValueError):
    """A bad row or file; the message is one line naming file:line and field."""


@dataclass
class Reject:
    source: str  # "file:line"
    field: str
    message: str

    def line(self) -> str:
        return f"{self.source}: {self.field}: {self.message}"


@dataclass
class Dataset:
    path: Path
    samples: list[Sample]
    fingerprint: str
    rejects: list[Reject] = field(default_factory=list)
    #: sha256 of each image file's bytes, by absolute path (for leakage checks and dedup).
    image_hashes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.samples]

    def by_id(self) -> dict[str, Sample]:
        return {s.id: s for s in self.samples}


def check_image_bytes(data: bytes) -> str | None:
    """None if the bytes decode to a whole image, else a short reason."""
    if not data:
        return "zero-byte image file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if im.width < 1 or im.height < 1:
                    return "image has zero width or height"
    except Image.DecompressionBombError as e:
        return f"decompression bomb: {e}"
    except Image.DecompressionBombWarning as e:
        return f"decompression bomb: {e}"
    except (OSError, SyntaxError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"corrupt or truncated image ({msg})"
    return None


def _check_image_file(path: str) -> tuple[str, str | None, str]:
    """(path, error or None, sha256 of bytes)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return path, "image file not found", ""
    except OSError as e:
        return path, f"cannot read image file ({e.strerror})", ""
    return path, check_image_bytes(data), hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- raw rows


@dataclass
class _RawRow:
    source: str
    obj: dict[str, Any] | None
    error: Reject | None


def _iter_jsonl(path: Path) -> Iterator[_RawRow]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            src = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield _RawRow(src, None, Reject(src, "<line>", f"not valid UTF-8 (byte {e.start})"))
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield _RawRow(src, None, Reject(src, "<line>", f"malformed JSON: {e.msg} at column {e.colno}"))
                continue
            if not isinstance(obj, dict):
                yield _RawRow(src, None, Reject(src, "<line>", f"expected a JSON object, got {_json_kind(obj)}"))
                continue
            yield _RawRow(src, obj, None)


def _iter_parquet(path: Path) -> Iterator[_RawRow]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    for i, obj in enumerate(table.to_pylist(), start=1):
        yield _RawRow(f"{path}:{i}", obj, None)


def _iter_folder(path: Path) -> Iterator[_RawRow]:
    files = sorted(p for p in path.iterdir() if p.is_file())
    texts = {p.stem: p for p in files if p.suffix == ".txt"}
    for p in files:
        if p.suffix.lower() not in IMAGE_EXTS:
            continue
        src = str(p)
        t = texts.get(p.stem)
        if t is None:
            yield _RawRow(src, None, Reject(src, "text", f"no caption file {p.stem}.txt beside the image"))
            continue
        try:
            text = t.read_bytes().decode("utf-8").strip()
        except UnicodeDecodeError as e:
            yield _RawRow(src, None, Reject(str(t), "text", f"not valid UTF-8 (byte {e.start})"))
            continue
        yield _RawRow(src, {"id": p.stem, "text": text, "images": [p.name]}, None)


def _rows(path: Path) -> Iterator[_RawRow]:
    if path.is_dir():
        return _iter_folder(path)
    if path.suffix == ".parquet":
        return _iter_parquet(path)
    return _iter_jsonl(path)


def _json_kind(value: Any) -> str:
    """A value's JSON type in words ("a string", "an integer"), for messages read by JSONL authors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _to_sample(row: _RawRow, base: Path, index: int) -> Sample | Reject:
    """Check one parsed row's fields and build its Sample (images are checked later, in `read_dataset`).

    `images` must be a list, as in Data-Juicer: a bare string is rejected rather than wrapped, because
    Data-Juicer would treat it differently and a recipe's kept ids would no longer match.
    """
    obj = row.obj
    assert obj is not None
    src = row.source
    if "text" not in obj:
        return Reject(src, "text", "missing required field")
    text = obj["text"]
    if not isinstance(text, str):
        return Reject(src, "text", f"expected a string, got {_json_kind(text)}")
    images = obj.get("images", [])
    if images is None:
        images = []
    if not isinstance(images, list):
        return Reject(src, "images", f"expected a list of paths, got {_json_kind(images)}")
    bad = [x for x in images if not isinstance(x, str)]
    if bad:
        return Reject(src, "images", f"expected a list of paths, got a list holding {_json_kind(bad[0])}")
    rid = obj.get("id", None)
    if rid is None:
        rid = f"{base.name}-{index}" if base.name else str(index)
    elif isinstance(rid, bool) or not isinstance(rid, (str, int)):
        return Reject(src, "id", f"expected a string or an integer, got {_json_kind(rid)}")
    abs_images = [str(p if Path(p).is_absolute() else (base / p).resolve()) for p in images]
    extra = {k: v for k, v in obj.items() if k not in ("text", "images", "id")}
    return Sample(id=str(rid), text=text, images=abs_images, extra=extra, source=src)


# ----------------------------------------------------------------------------- cache


def _stat_sig(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()


def _cache_file(cache_dir: Path | None, path: Path) -> Path | None:
    if cache_dir is None:
        return None
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return cache_dir / "datasets" / f"{key}.json"


# ----------------------------------------------------------------------------- public


def read_dataset(
    path: str | Path,
    on_error: OnError = "skip",
    cache_dir: str | Path | None = None,
    rejects_path: str | Path | None = None,
    workers: int | None = None,
    console: Console | None = None,
    quiet: bool = False,
) -> Dataset:
    """Read, validate and fingerprint a dataset.

    on_error="skip" drops bad rows, counts them, prints a summary and writes them to ``rejects_path``
    (default: ``<cache_dir>/rejects/<name>.rejects.jsonl`` when a cache dir is given); "fail" raises
    ``DataError`` on the first bad row. Nothing disappears silently.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    console = console or Console(stderr=True)
    base = path if path.is_dir() else path.parent
    cache_dir = Path(cache_dir) if cache_dir is not None else None

    # Pass 1, cheap: parse each row and check its fields and id. One entry per non-empty row, in file
    # order. Under "fail" nothing after the first bad row can matter, so parsing stops there.
    checked: list[Sample | Reject] = []
    seen_ids: dict[str, str] = {}
    truncated = False
    for i, row in enumerate(_rows(path)):
        res: Sample | Reject = row.error if row.error is not None else _to_sample(row, base, i)
        if isinstance(res, Sample):
            if res.id in seen_ids:
                res = Reject(res.source, "id", f"duplicate id {res.id!r} (first at {seen_ids[res.id]})")
            else:
                seen_ids[res.id] = res.source
        checked.append(res)
        if on_error == "fail" and isinstance(res, Reject):
            truncated = True
            break
    samples = [r for r in checked if isinstance(r, Sample)]

    # Pass 2, costly: decode and hash every image once (cached on file stats). A truncated read only
    # needs the images of the rows above its bad row, and neither reads nor writes the cache.
    all_images = sorted({p for s in samples for p in s.images})
    sig = _stat_sig([str(path)] + all_images) if path.is_file() else _stat_sig(all_images)
    cfile = None if truncated else _cache_file(cache_dir, path)
    cached: dict[str, Any] | None = None
    if cfile is not None and cfile.exists():
        try:
            cached = json.loads(cfile.read_text())
            if cached.get("version") != _CACHE_VERSION or cached.get("sig") != sig:
                cached = None
        except (OSError, json.JSONDecodeError):
            cached = None
    if cached is not None:
        img_err: dict[str, str | None] = cached["img_err"]
        img_hash: dict[str, str] = cached["img_hash"]
    else:
        img_err, img_hash = {}, {}
        results = _check_images(all_images, workers=workers, quiet=quiet)
        for p, err, h in results:
            img_err[p] = err
            img_hash[p] = h
        if cfile is not None:
            cfile.parent.mkdir(parents=True, exist_ok=True)
            tmp = cfile.with_suffix(".tmp")
            tmp.write_text(
                json.dumps({"version": _CACHE_VERSION, "sig": sig, "img_err": img_err, "img_hash": img_hash})
            )
            os.replace(tmp, cfile)

    # Pass 3: decide row by row in file order, so "fail" names the first bad line whatever its kind
    # (a corrupt image on line 2 before malformed JSON on line 3, and the reverse).
    good: list[Sample] = []
    rejects: list[Reject] = []
    for res in checked:
        if isinstance(res, Sample):
            bad = next(((p, img_err[p]) for p in res.images if img_err.get(p)), None)
            if bad is not None:
                res = Reject(res.source, "images", f"{bad[0]}: {bad[1]}")
        if isinstance(res, Reject):
            if on_error == "fail":
                raise DataError(res.line())
            rejects.append(res)
            continue
        good.append(res)

    fp = _fingerprint(good, img_hash)
    ds = Dataset(path=path, samples=good, fingerprint=fp, rejects=rejects, image_hashes=img_hash)
    if rejects:
        if rejects_path is None and cache_dir is not None:
            rejects_path = cache_dir / "rejects" / f"{path.stem}.rejects.jsonl"
        if rejects_path is not None:
            write_rejects(rejects, Path(rejects_path))
        if not quiet:
            # soft_wrap: a reject line stays one `file:line: field: message` line for grep, whatever the width;
            # markup off: a path or message with brackets is printed as it is.
            def say(text: str, style: str) -> None:
                console.print(text, style=style, highlight=False, markup=False, soft_wrap=True)

            say(
                f"{path}: skipped {len(rejects)} bad row(s) of {len(rejects) + len(good)}"
                + (f"; listed in {rejects_path}" if rejects_path else ""),
                "yellow",
            )
            for r in rejects[:5]:
                say(f"  {r.line()}", "dim")
            if len(rejects) > 5:
                say(f"  ... and {len(rejects) - 5} more", "dim")
    return ds


def write_rejects(rejects: list[Reject], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rejects:
            f.write(json.dumps({"source": r.source, "field": r.field, "error": r.message}) + "\n")


def _check_images(paths: list[str], workers: int | None, quiet: bool) -> list[tuple[str, str | None, str]]:
    from recipelab.progress import progress_iter

    if not paths:
        return []
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if workers <= 1 or len(paths) < 2000:
        return list(progress_iter(map(_check_image_file, paths), total=len(paths), desc="validate images", quiet=quiet))
    with ProcessPoolExecutor(workers) as ex:
        it = ex.map(_check_image_file, paths, chunksize=256)
        return list(progress_iter(it, total=len(paths), desc="validate images", quiet=quiet))


def _fingerprint(samples: list[Sample], img_hash: dict[str, str]) -> str:
    """Content hash: ids, texts, extra fields and image bytes, in row order (paths don't matter)."""
    h = hashlib.sha256()
    for s in samples:
        h.update(json.dumps([s.id, s.text, s.extra], sort_keys=True, ensure_ascii=False, default=str).encode())
        for p in s.images:
            h.update(img_hash.get(p, "").encode())
        h.update(b"\n")
    return h.hexdigest()[:32]
