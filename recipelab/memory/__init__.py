"""SQLite memory of a workspace: runs, experiments (probes), events, directives, chat messages.

See :class:`Memory`; DESIGN.md, section Memory.
"""

from .jsonutil import canonical_hash, canonical_json, redact, redact_text, to_jsonable
from .schema import (
    DIRECTIVE_SOURCES,
    DIRECTIVE_STATUSES,
    EVENT_KINDS,
    EXPERIMENT_STATUSES,
    MESSAGE_ROLES,
    MIGRATIONS,
    RUN_STATUSES,
    SCHEMA_VERSION,
    SchemaVersionError,
)
from .store import Memory, experiment_fingerprint, now

__all__ = [
    "DIRECTIVE_SOURCES",
    "DIRECTIVE_STATUSES",
    "EVENT_KINDS",
    "EXPERIMENT_STATUSES",
    "MESSAGE_ROLES",
    "MIGRATIONS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Memory",
    "SchemaVersionError",
    "canonical_hash",
    "canonical_json",
    "experiment_fingerprint",
    "now",
    "redact",
    "redact_text",
    "to_jsonable",
]
