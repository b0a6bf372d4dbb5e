from __future__ import annotations

import sqlite3

import pytest

from recipelab.memory import MIGRATIONS, SCHEMA_VERSION, Memory, SchemaVersionError


def _indexes(m: Memory) -> set[str]:
    return {r[0] for r in m.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_fresh_db_has_all_tables_and_latest_version(mem: Memory):
    assert mem.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    assert {"runs", "experiments", "events", "directives", "messages"} <= set(mem.db.table_names())
    cols = set(mem.db["experiments"].columns_dict)
    for c in (
        "fingerprint",
        "recipe",
        "recipe_fp",
        "recipe_yaml",
        "spec",
        "seed",
        "train_size",
        "kept_size",
        "metrics",
        "primary_value",
        "result",
        "error",
        "purpose",
        "step",
        "attempts",
        "started_at",
        "finished_at",
        "wall_time_s",
    ):
        assert c in cols


def test_pragmas_wal_busy_timeout_foreign_keys(mem: Memory):
    assert mem.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert mem.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert mem.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys enforced
        mem.log_event("r-nope", "info", "orphan")


def test_old_db_is_migrated_on_open(db_path):
    old = Memory(db_path, migrations=MIGRATIONS[:1])
    assert old.schema_version == 1
    assert not any(n.startswith("idx_") for n in _indexes(old))
    run_id = old.create_run({"task": "clip"}, {"probes": 3})
    old.log_event(run_id, "info", "written by v1")
    old.close()

    new = Memory(db_path)
    assert new.schema_version == SCHEMA_VERSION
    assert "idx_experiments_fingerprint" in _indexes(new)
    assert new.get_run(run_id)["config"] == {"task": "clip"}
    assert [e["message"] for e in new.events(run_id)] == ["written by v1"]
    new.close()


def test_newer_db_gives_clear_error(db_path):
    Memory(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match=r"schema version \d+.*upgrade recipelab"):
        Memory(db_path)


def test_failed_migration_rolls_back(db_path):
    def broken(conn):
        conn.execute("CREATE TABLE extra (x)")
        raise RuntimeError("boom")

    Memory(db_path).close()
    with pytest.raises(RuntimeError, match="boom"):
        Memory(db_path, migrations=(*MIGRATIONS, broken))
    m = Memory(db_path)
    assert m.schema_version == SCHEMA_VERSION
    assert "extra" not in m.db.table_names()
    m.close()
