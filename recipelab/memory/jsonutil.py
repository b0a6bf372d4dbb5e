"""JSON helpers for the memory: secret redaction, NaN-safe encoding, canonical hashing.

Everything the memory writes goes through :func:`to_jsonable` (with redaction on), so no secret
and no NaN ever reaches the SQLite file. Fingerprints use :func:`canonical_json` (no redaction:
a hash stores no secret, and redaction must never change a fingerprint).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import math
import os
import re
from pathlib import PurePath
from typing import Any

MASK = "***"

# Env vars whose values are secrets: names ending in _API_KEY, _TOKEN, _SECRET, _PASSWORD (or equal to them).
_SECRET_ENV_NAME = re.compile(r"(?:^|_)(?:API_KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
# Dict keys whose string values are secrets wherever they appear (e.g. a config's `api_key:`).
_SECRET_KEY_NAME = re.compile(
    r"(?:^|_)(?:api_?key|secret|password|passwd)$|^(?:access|auth|bearer|refresh|hf|github|api)?_?token$",
    re.IGNORECASE,
)
# Env values shorter than this are not replaced in free text (replacing "1" or "true" everywhere would
# destroy the log while protecting nothing).
MIN_ENV_SECRET_LEN = 6
_KEY_PATTERNS = (
    # OpenAI-style keys: sk-..., sk-proj-..., sk-ant-... (not "task-..." / "mask-...").
    (re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9][A-Za-z0-9_\-]{15,}"), MASK),
    # Hugging Face, GitHub and Slack tokens.
    (
        re.compile(r"(?<![A-Za-z0-9])(?:hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9\-]{10,})"),
        MASK,
    ),
    # HTTP auth headers.
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/\-]{12,}=*"), r"\1" + MASK),
)


def _env_secrets() -> list[str]:
    vals = {
        v for k, v in os.environ.items() if _SECRET_ENV_NAME.search(k) and v and len(v.strip()) >= MIN_ENV_SECRET_LEN
    }
    return sorted(vals, key=len, reverse=True)  # longest first, so a secret holding another one goes whole


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """Replace secrets in one string with ``***``."""
    if not text:
        return text
    for s in _env_secrets() if secrets is None else secrets:
        if s in text:
            text = text.replace(s, MASK)
    for pattern, repl in _KEY_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact(value: Any) -> Any:
    """Return ``value`` with secrets replaced by ``***``.

    Replaced: the values of environment variables whose names end in ``_API_KEY``, ``_TOKEN``,
    ``_SECRET`` or ``_PASSWORD`` (at least 6 characters long) wherever they appear in text;
    ``sk-...``-like API keys, Hugging Face / GitHub tokens and ``Bearer ...`` headers; and the string
    value of any dict key named like a secret (``api_key``, ``secret``, ``password``, ``token``,
    ``hf_token``...). Strings, dicts, lists and tuples are walked; other values are returned as is.
    """
    return _redact(value, _env_secrets())


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = redact_text(k, secrets) if isinstance(k, str) else k
            if isinstance(k, str) and isinstance(v, str) and v and _SECRET_KEY_NAME.search(k):
                out[key] = MASK
            else:
                out[key] = _redact(v, secrets)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact(v, secrets) for v in value]
    return value


def to_jsonable(value: Any, *, strict: bool = False) -> Any:
    """Convert ``value`` to plain JSON types (dict/list/str/int/float/bool/None).

    NaN and +/-inf become ``None`` (JSON cannot hold them). Pydantic models, dataclasses, numpy
    scalars/arrays (anything with ``tolist``), paths, datetimes, enums, sets and tuples are converted.
    An unknown object raises ``TypeError`` when ``strict`` (fingerprints), else becomes its ``repr``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(k, strict): to_jsonable(v, strict=strict) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, strict=strict) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, strict=strict) for v in value]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, strict=strict)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if hasattr(value, "model_dump") and callable(value.model_dump):  # pydantic v2
        return to_jsonable(value.model_dump(mode="json"), strict=strict)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), strict=strict)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalar / array, torch tensor
        return to_jsonable(value.tolist(), strict=strict)
    if isinstance(value, bytes):
        if strict:
            raise TypeError("bytes are not JSON; hash them first")
        return value.decode("utf-8", errors="replace")
    if strict:
        raise TypeError(f"cannot make a canonical JSON value from {type(value).__name__}: {value!r}")
    return repr(value)


def _key(k: Any, strict: bool) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, (int, float, bool)) or k is None:
        return json.dumps(k)
    if isinstance(k, enum.Enum):
        return str(k.value)
    if strict:
        raise TypeError(f"dict key of type {type(k).__name__} is not JSON")
    return str(k)


def dumps(value: Any) -> str | None:
    """Encode a value for a JSON column: NaN/inf -> null, secrets redacted. ``None`` stays SQL NULL."""
    if value is None:
        return None
    return json.dumps(redact(to_jsonable(value)), ensure_ascii=False, allow_nan=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8, NaN/inf as null; unknown objects raise TypeError.

    Types matter: ``1`` and ``1.0`` encode differently, so callers should pass values of stable types
    (e.g. ``model_dump()`` of a pydantic config).
    """
    return json.dumps(
        to_jsonable(value, strict=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def canonical_hash(value: Any) -> str:
    """sha256 hex digest of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
