"""Tables of the memory and the ordered list of migrations that build them.

The schema version is SQLite's ``PRAGMA user_version``: it lives in the file header and changes in
the same transaction as the migration's DDL, so a crash mid-migration leaves the old version intact.
``MIGRATIONS[i]`` takes a database at version ``i`` to version ``i + 1``.

Rules for changing the schema: never edit a migration that has shipped; append a new one. Migrations
are plain SQL (not sqlite-utils' generated DDL) so that what version N means never changes with the
library version. Allowed values (statuses, kinds) are checked in Python, not with SQL CHECK, so a new
value needs no table rebuild.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]

RUN_STATUSES = ("created", "running", "paused", "stopping", "stopped", "done", "failed", "interrupted")
EXPERIMENT_STATUSES = ("queued", "running", "done", "failed", "interrupted")
EVENT_KINDS = ("plan", "llm", "probe", "directive", "decision", "error", "info", "tool")
DIRECTIVE_STATUSES = ("pending", "applied", "rejected")
DIRECTIVE_SOURCES = ("chat", "cli", "api")
MESSAGE_ROLES = ("user", "assistant", "tool", "system")

# JSON-encoded columns of each table (decoded on read).
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("config", "budget", "summary"),
    "experiments": ("recipe", "spec", "metrics", "result"),
    "events": ("payload",),
    "directives": ("payload",),
    "messages": ("payload",),
}


def _v1_tables(conn: sqlite3.Connection) -> None:
    """Version 1: the five tables."""
    conn.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL,
            config TEXT,          -- JSON
            budget TEXT,          -- JSON
            summary TEXT,         -- JSON
            pid INTEGER,
            host TEXT
        )"""
    )
    conn.execute(
        """
        CREATE TABLE experiments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            purpose TEXT,
            step INTEGER,
            recipe TEXT,          -- JSON
            recipe_fp TEXT,
            recipe_yaml TEXT,
            spec TEXT,            -- JSON
            seed INTEGER,
            train_size INTEGER,
            kept_size INTEGER,
            metrics TEXT,         -- JSON
            primary_value REAL,   -- the run's primary metric, for fast sorting
            result TEXT,          -- JSON
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            cached_from INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            wall_time_s REAL,
            UNIQUE (run_id, fingerprint)
        )"""
    )
    conn.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            payload TEXT          -- JSON
        )"""
    )
    conn.execute(
        """
        CREATE TABLE directives (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT,         -- JSON
            status TEXT NOT NULL DEFAULT 'pending',
            applied_at TEXT,
            result TEXT,
            source TEXT NOT NULL
        )"""
    )
    conn.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
            ts TEXT NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            payload TEXT          -- JSON
        )"""
    )


def _v2_indexes(conn: sqlite3.Connection) -> None:
    """Version 2: indexes for the hot queries (cache lookups, per-run listings, event tailing)."""
    for sql in (
        "CREATE INDEX idx_experiments_fingerprint ON experiments (fingerprint, status)",
        "CREATE INDEX idx_experiments_run_status ON experiments (run_id, status)",
        "CREATE INDEX idx_experiments_run_primary ON experiments (run_id, primary_value)",
        "CREATE INDEX idx_events_run ON events (run_id, id)",
        "CREATE INDEX idx_directives_run_status ON directives (run_id, status)",
        "CREATE INDEX idx_messages_run ON messages (run_id, id)",
        "CREATE INDEX idx_runs_status ON runs (status)",
    ):
        conn.execute(sql)


MIGRATIONS: tuple[Migration, ...] = (_v1_tables, _v2_indexes)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaVersionError(RuntimeError):
    """The database was written by a newer recipelab than this one."""


def get_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS, path: str = "") -> int:
    """Bring the database up to ``len(migrations)``; return the version it ended at.

    Runs in one ``BEGIN IMMEDIATE`` transaction, re-reading the version inside it, so two processes
    opening a fresh file at once migrate it exactly once. Raises :class:`SchemaVersionError` when the
    file is newer than ``migrations`` knows.
    """
    target = len(migrations)

    def _check(version: int) -> None:
        if version > target:
            raise SchemaVersionError(
                f"memory database {path or '(unnamed)'} has schema version {version}, but this recipelab "
                f"only knows versions up to {target}; upgrade recipelab to open it"
            )

    version = get_version(conn)
    _check(version)
    if version == target:
        return version
    conn.execute("BEGIN IMMEDIATE")
    with conn:  # commits, or rolls back on any error
        version = get_version(conn)
        _check(version)
        for i in range(version, target):
            migrations[i](conn)
            conn.execute(f"PRAGMA user_version = {i + 1}")
    return get_version(conn)
