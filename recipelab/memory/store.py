"""The memory: one SQLite file per workspace holding runs, experiments, events, directives, messages.

Several processes use the file at once (the search loop, a chat process, a report), so it is opened
in WAL mode with a busy timeout, and every state change is exactly one ``BEGIN IMMEDIATE``
transaction: a process killed at any point (even ``kill -9``) leaves the file consistent, and a
resumed run calls :meth:`Memory.mark_interrupted` to turn the probes it was running into
``interrupted`` ones it can run again.

Everything written is passed through :func:`~recipelab.memory.jsonutil.redact` (no API key ever lands
in the file) and NaN/inf floats are stored as ``null``.

Rows come back as plain dicts with JSON columns decoded. Timestamps are ISO-8601 UTC strings with
milliseconds (``2026-11-26T10:03:12.345+00:00``), which sort as text.

A ``Memory`` belongs to one process; it is safe to share between threads of that process (calls are
serialised by a lock). After a ``fork`` the child reopens the file on its first call.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .jsonutil import canonical_hash, dumps, loads, redact_text, to_jsonable
from .schema import (
    DIRECTIVE_SOURCES,
    DIRECTIVE_STATUSES,
    EVENT_KINDS,
    EXPERIMENT_STATUSES,
    JSON_COLUMNS,
    MESSAGE_ROLES,
    MIGRATIONS,
    RUN_STATUSES,
    Migration,
    get_version,
    migrate,
)

DEFAULT_BUSY_TIMEOUT_S = 30.0
FINGERPRINT_VERSION = 1

_RUN_FIELDS = {"status", "config", "budget", "summary", "pid", "host"}


def now() -> str:
    """Current UTC time as the memory stores it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _parse_ts(ts: str | None) -> _dt.datetime | None:
    return _dt.datetime.fromisoformat(ts) if ts else None


def _text(value: str | None) -> str | None:
    return None if value is None else redact_text(str(value))


def _check(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def experiment_fingerprint(
    dataset_fp: str, recipe_fp: str, trainer_config: dict[str, Any], seed: int, size: int
) -> str:
    """Stable identity of a probe: sha256 hex of the canonical JSON of its inputs.

    Two probes with the same dataset, recipe, trainer config, seed and training-set size give the same
    result (up to nondeterminism), so a done experiment with this fingerprint in any run is a cache hit.
    Key order in ``trainer_config`` does not matter; value types do (``1`` vs ``1.0``).
    """
    return canonical_hash(
        {
            "v": FINGERPRINT_VERSION,
            "dataset": dataset_fp,
            "recipe": recipe_fp,
            "trainer": trainer_config,
            "seed": seed,
            "size": size,
        }
    )


class Memory:
    """The workspace's SQLite memory. ``Memory(path)`` opens (creating and migrating as needed).

    ``migrations`` is for tests: open with a prefix of :data:`~recipelab.memory.schema.MIGRATIONS` to
    build an older file. Raises :class:`~recipelab.memory.schema.SchemaVersionError` when the file
    is newer than this code.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._migrations = tuple(migrations)
        self._lock = threading.RLock()
        self._pid = -1
        self.db: Database
        self._open()

    # ------------------------------------------------------------------ connection
    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch {self.path} to WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable against process kills; fast in WAL
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, self._migrations, str(self.path))
        except BaseException:
            conn.close()
            raise
        self.db = Database(conn)
        self._pid = os.getpid()

    def _ensure_open(self) -> None:
        if self._pid != os.getpid():  # forked child (or closed): never share the parent's connection
            self._open()

    @property
    def conn(self) -> sqlite3.Connection:
        """The underlying sqlite3 connection (for reads; write through the methods)."""
        self._ensure_open()
        return self.db.conn

    def close(self) -> None:
        """Close the connection (a later call on this object reopens the file)."""
        with self._lock:
            if self._pid == os.getpid():
                self.db.conn.close()
            self._pid = -1

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({str(self.path)!r})"

    @property
    def schema_version(self) -> int:
        with self._lock:
            return get_version(self.conn)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE (takes the write lock up front, waiting up to the busy
        timeout, so read-then-write is atomic and never fails with a lock upgrade), then commit or roll
        back. Raw SQL only inside: sqlite-utils' write helpers commit on their own."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            with conn:
                yield conn

    def _rows(self, table: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            self._ensure_open()
            rows = list(self.db.query(sql, params))
        cols = JSON_COLUMNS.get(table, ())
        for row in rows:
            for c in cols:
                if c in row:
                    row[c] = loads(row[c])
        return rows

    def _one(self, table: str, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(table, sql, params)
        return rows[0] if rows else None

    # ------------------------------------------------------------------ runs
    def create_run(self, config: dict[str, Any], budget: dict[str, Any], *, status: str = "created") -> str:
        """Create a run and return its id, e.g. ``r-20261126-ab12`` (UTC date + 4 random hex)."""
        _check(status, RUN_STATUSES, "run status")
        ts = now()
        day = ts[:10].replace("-", "")
        with self._tx() as conn:
            for n in range(100):
                run_id = f"r-{day}-{secrets.token_hex(2 if n < 50 else 4)}"
                if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                    break
            else:  # pragma: no cover - 100 collisions in a row
                raise RuntimeError("could not allocate a run id")
            conn.execute(
                "INSERT INTO runs (id, created_at, updated_at, status, config, budget, summary, pid, host)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                (run_id, ts, ts, status, dumps(config), dumps(budget)),
            )
        return run_id

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        return self._one("runs", "SELECT * FROM runs WHERE id = ?", (run_id,))

    def list_runs(self, status: str | Sequence[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs, newest first."""
        where, params = _in_clause("status", status)
        sql = f"SELECT * FROM runs{where} ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._rows("runs", sql, params)

    def set_run_status(self, run_id: str, status: str) -> None:
        """Set a run's status. Setting ``running`` also records this process's pid and host (so
        :meth:`mark_interrupted` can later tell whether the run's process is still alive)."""
        _check(status, RUN_STATUSES, "run status")
        if status == "running":
            self.update_run(run_id, status=status, pid=os.getpid(), host=socket.gethostname())
        else:
            self.update_run(run_id, status=status)

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Update any of ``status, config, budget, summary, pid, host`` (dicts JSON-encoded) in one
        transaction; ``updated_at`` is set. Raises ``KeyError`` for an unknown run."""
        unknown = set(fields) - _RUN_FIELDS
        if unknown:
            raise ValueError(f"unknown run field(s) {sorted(unknown)}; allowed: {sorted(_RUN_FIELDS)}")
        if "status" in fields:
            _check(fields["status"], RUN_STATUSES, "run status")
        values: dict[str, Any] = {}
        for k, v in fields.items():
            if k in JSON_COLUMNS["runs"]:
                values[k] = dumps(v)
            elif k == "host":
                values[k] = _text(v)
            else:
                values[k] = v
        values["updated_at"] = now()
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._tx() as conn:
            cur = conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*values.values(), run_id))
            if cur.rowcount == 0:
                raise KeyError(f"no run {run_id!r}")

    # ------------------------------------------------------------------ experiments
    experiment_fingerprint = staticmethod(experiment_fingerprint)

    def find_done(self, fingerprint: str) -> dict[str, Any] | None:
        """The most recently finished ``done`` experiment with this fingerprint, in any run (a cache
        hit), or ``None``."""
        return self._one(
            "experiments",
            "SELECT * FROM experiments WHERE fingerprint = ? AND status = 'done'"
            " ORDER BY finished_at DESC, id DESC LIMIT 1",
            (fingerprint,),
        )

    def add_experiment(
        self,
        run_id: str,
        fingerprint: str,
        *,
        recipe: Any = None,
        recipe_fp: str | None = None,
        recipe_yaml: str | None = None,
        spec: Any = None,
        seed: int | None = None,
        train_size: int | None = None,
        kept_size: int | None = None,
        purpose: str | None = None,
        step: int | None = None,
    ) -> int:
        """Queue an experiment and return its id.

        Idempotent per run: if this run already has an experiment with ``fingerprint`` its id is
        returned and nothing changes (so a resumed loop that re-plans the same probe finds the old row,
        whatever its status). ``recipe_fp`` defaults to the canonical hash of ``recipe``.
        """
        if recipe_fp is None and recipe is not None:
            recipe_fp = canonical_hash(recipe)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM experiments WHERE run_id = ? AND fingerprint = ?", (run_id, fingerprint)
            ).fetchone()
            if row is not None:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO experiments (run_id, fingerprint, status, purpose, step, recipe, recipe_fp,"
                " recipe_yaml, spec, seed, train_size, kept_size, attempts, created_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (
                    run_id,
                    fingerprint,
                    _text(purpose),
                    step,
                    dumps(recipe),
                    recipe_fp,
                    _text(recipe_yaml),
                    dumps(spec),
                    seed,
                    train_size,
                    kept_size,
                    now(),
                ),
            )
            return int(cur.lastrowid)

    def reuse_experiment(
        self, run_id: str, source_id: int, *, purpose: str | None = None, step: int | None = None
    ) -> int:
        """Record a cache hit: copy done experiment ``source_id`` (usually from :meth:`find_done`) into
        ``run_id`` as a ``done`` row with ``cached_from = source_id`` and ``wall_time_s = 0``; return its
        id. If the run already has that fingerprint, that row's id is returned unchanged."""
        with self._tx() as conn:
            src = conn.execute("SELECT fingerprint, status FROM experiments WHERE id = ?", (source_id,)).fetchone()
            if src is None:
                raise KeyError(f"no experiment {source_id}")
            if src[1] != "done":
                raise ValueError(f"experiment {source_id} is {src[1]}, not done; only done ones are reused")
            row = conn.execute(
                "SELECT id FROM experiments WHERE run_id = ? AND fingerprint = ?", (run_id, src[0])
            ).fetchone()
            if row is not None:
                return int(row[0])
            ts = now()
            cur = conn.execute(
                "INSERT INTO experiments (run_id, fingerprint, status, purpose, step, recipe, recipe_fp,"
                " recipe_yaml, spec, seed, train_size, kept_size, metrics, primary_value, result, attempts,"
                " cached_from, created_at, started_at, finished_at, wall_time_s)"
                " SELECT ?, fingerprint, 'done', COALESCE(?, purpose), ?, recipe, recipe_fp, recipe_yaml,"
                " spec, seed, train_size, kept_size, metrics, primary_value, result, 0, id, ?, ?, ?, 0.0"
                " FROM experiments WHERE id = ?",
                (run_id, _text(purpose), step, ts, ts, ts, source_id),
            )
            return int(cur.lastrowid)

    def get_experiment(self, experiment_id: int) -> dict[str, Any] | None:
        return self._one("experiments", "SELECT * FROM experiments WHERE id = ?", (experiment_id,))

    def start_experiment(self, experiment_id: int) -> int:
        """Mark a queued/failed/interrupted experiment ``running``: attempts + 1, ``started_at`` now,
        previous error/finish cleared. Returns the attempt number. Raises ``ValueError`` if it is
        already running or done (a finished probe is never run twice), ``KeyError`` if unknown."""
        with self._tx() as conn:
            row = conn.execute("SELECT status FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
            if row is None:
                raise KeyError(f"no experiment {experiment_id}")
            if row[0] in ("running", "done"):
                raise ValueError(f"experiment {experiment_id} is already {row[0]}")
            conn.execute(
                "UPDATE experiments SET status = 'running', attempts = attempts + 1, started_at = ?,"
                " finished_at = NULL, error = NULL, wall_time_s = NULL WHERE id = ?",
                (now(), experiment_id),
            )
            return int(conn.execute("SELECT attempts FROM experiments WHERE id = ?", (experiment_id,)).fetchone()[0])

    def finish_experiment(
        self,
        experiment_id: int,
        metrics: dict[str, Any],
        result: Any = None,
        primary: float | str | None = None,
        *,
        wall_time_s: float | None = None,
        train_size: int | None = None,
        kept_size: int | None = None,
    ) -> None:
        """Mark an experiment ``done`` with its metrics and full result.

        ``primary`` is the primary metric's value, or the name of a key in ``metrics``; it goes in the
        indexed ``primary_value`` column for sorting. NaN/inf values (in ``metrics``, ``result`` or
        ``primary``) are stored as ``null``, since JSON cannot hold them. ``wall_time_s`` defaults to the
        time since :meth:`start_experiment`. ``train_size``/``kept_size``, when given, overwrite the
        queued values.
        """
        if isinstance(primary, str):
            primary = metrics.get(primary)
        primary_value = to_jsonable(primary) if primary is not None else None
        if primary_value is not None and not isinstance(primary_value, (int, float)):
            raise TypeError(f"primary must be a number or a metric name, got {primary!r}")
        ts = now()
        with self._tx() as conn:
            row = conn.execute("SELECT status, started_at FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
            if row is None:
                raise KeyError(f"no experiment {experiment_id}")
            if row[0] == "done":
                raise ValueError(f"experiment {experiment_id} is already done")
            if wall_time_s is None and row[1]:
                wall_time_s = (_parse_ts(ts) - _parse_ts(row[1])).total_seconds()
            conn.execute(
                "UPDATE experiments SET status = 'done', metrics = ?, result = ?, primary_value = ?,"
                " error = NULL, finished_at = ?, wall_time_s = ?, train_size = COALESCE(?, train_size),"
                " kept_size = COALESCE(?, kept_size) WHERE id = ?",
                (
                    dumps(metrics),
                    dumps(result),
                    primary_value,
                    ts,
                    to_jsonable(wall_time_s),
                    train_size,
                    kept_size,
                    experiment_id,
                ),
            )

    def fail_experiment(self, experiment_id: int, error: str) -> None:
        """Mark an experiment ``failed`` with its error text (redacted); it may be started again."""
        ts = now()
        with self._tx() as conn:
            row = conn.execute("SELECT status, started_at FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
            if row is None:
                raise KeyError(f"no experiment {experiment_id}")
            if row[0] == "done":
                raise ValueError(f"experiment {experiment_id} is already done")
            wall = (_parse_ts(ts) - _parse_ts(row[1])).total_seconds() if row[1] else None
            conn.execute(
                "UPDATE experiments SET status = 'failed', error = ?, finished_at = ?, wall_time_s = ? WHERE id = ?",
                (_text(error), ts, wall, experiment_id),
            )

    def experiments(
        self,
        run_id: str | None = None,
        status: str | Sequence[str] | None = None,
        *,
        purpose: str | None = None,
        order_by: str = "id",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Experiments (JSON columns decoded), optionally of one run / status(es) / purpose.

        ``order_by``: ``"id"`` (oldest first), ``"primary"`` (highest ``primary_value`` first, nulls
        last) or ``"primary_asc"`` (lowest first, nulls last).
        """
        clauses, params = [], []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                _check(s, EXPERIMENT_STATUSES, "experiment status")
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if purpose is not None:
            clauses.append("purpose = ?")
            params.append(purpose)
        order = {
            "id": "id",
            "primary": "primary_value IS NULL, primary_value DESC, id",
            "primary_asc": "primary_value IS NULL, primary_value ASC, id",
        }.get(order_by)
        if order is None:
            raise ValueError("order_by must be 'id', 'primary' or 'primary_asc'")
        sql = "SELECT * FROM experiments"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._rows("experiments", sql, params)

    def mark_interrupted(self, run_id: str) -> int:
        """Recover after a crash; call when a run starts or resumes. Returns how many experiments changed.

        In one transaction: this run's ``running`` experiments become ``interrupted`` (so they can be
        started again), and the run itself becomes ``interrupted`` if it is ``running``/``stopping`` and
        its recorded process is dead (or on another host, or unknown). Raises ``RuntimeError`` if the
        run's recorded process is a *different* live process on this host: the run is still going, and
        taking its probes away would be wrong.
        """
        me, host = os.getpid(), socket.gethostname()
        with self._tx() as conn:
            row = conn.execute("SELECT status, pid, host FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run {run_id!r}")
            status, pid, run_host = row
            alive = run_host == host and _pid_alive(pid)
            if alive and pid != me and status in ("running", "stopping", "paused"):
                raise RuntimeError(f"run {run_id} is still active in process {pid} on {host}")
            n = conn.execute(
                "UPDATE experiments SET status = 'interrupted', finished_at = ?"
                " WHERE run_id = ? AND status = 'running'",
                (now(), run_id),
            ).rowcount
            if status in ("running", "stopping") and not alive:
                conn.execute("UPDATE runs SET status = 'interrupted', updated_at = ? WHERE id = ?", (now(), run_id))
            return int(n)

    # ------------------------------------------------------------------ events
    def log_event(self, run_id: str, kind: str, message: str, payload: Any = None) -> int:
        """Append to the agent's log; ``kind`` is one of plan/llm/probe/directive/decision/error/info/tool."""
        _check(kind, EVENT_KINDS, "event kind")
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO events (run_id, ts, kind, message, payload) VALUES (?, ?, ?, ?, ?)",
                (run_id, now(), kind, _text(message) or "", dumps(payload)),
            )
            return int(cur.lastrowid)

    def events(
        self,
        run_id: str | None = None,
        kinds: str | Iterable[str] | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events in order (oldest first). ``after_id`` tails the log: pass the last id seen.
        ``run_id=None`` means all runs."""
        clauses, params = [], []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if kinds is not None:
            ks = [kinds] if isinstance(kinds, str) else list(kinds)
            clauses.append(f"kind IN ({', '.join('?' * len(ks))})")
            params.extend(ks)
        if after_id is not None:
            clauses.append("id > ?")
            params.append(int(after_id))
        sql = "SELECT * FROM events"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._rows("events", sql, params)

    # ------------------------------------------------------------------ directives
    def add_directive(self, run_id: str, kind: str, payload: Any = None, source: str = "chat") -> int:
        """Queue a steering directive (``status='pending'``) for the running loop to consume."""
        _check(source, DIRECTIVE_SOURCES, "directive source")
        if not kind:
            raise ValueError("directive kind must be non-empty")
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO directives (run_id, ts, kind, payload, status, source) VALUES (?, ?, ?, ?, 'pending', ?)",
                (run_id, now(), _text(kind), dumps(payload), source),
            )
            return int(cur.lastrowid)

    def pending_directives(self, run_id: str) -> list[dict[str, Any]]:
        """Pending directives of a run, oldest first."""
        return self._rows(
            "directives",
            "SELECT * FROM directives WHERE run_id = ? AND status = 'pending' ORDER BY id",
            (run_id,),
        )

    def directives(self, run_id: str) -> list[dict[str, Any]]:
        """All directives of a run, oldest first."""
        return self._rows("directives", "SELECT * FROM directives WHERE run_id = ? ORDER BY id", (run_id,))

    def resolve_directive(self, directive_id: int, status: str, result: str | None = None) -> bool:
        """Mark a pending directive ``applied`` or ``rejected`` with a result text. Returns ``False`` (and
        changes nothing) if it was no longer pending, so two consumers never both apply it."""
        _check(status, [s for s in DIRECTIVE_STATUSES if s != "pending"], "directive resolution")
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE directives SET status = ?, applied_at = ?, result = ? WHERE id = ? AND status = 'pending'",
                (status, now(), _text(result), directive_id),
            )
            return cur.rowcount == 1

    # ------------------------------------------------------------------ messages
    def add_message(self, run_id: str | None, role: str, content: str, payload: Any = None) -> int:
        """Append a chat message (``run_id`` may be ``None`` for chat not tied to a run)."""
        _check(role, MESSAGE_ROLES, "message role")
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO messages (run_id, ts, role, content, payload) VALUES (?, ?, ?, ?, ?)",
                (run_id, now(), role, _text(content) or "", dumps(payload)),
            )
            return int(cur.lastrowid)

    def messages(
        self, run_id: str | None, after_id: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Chat history of ``run_id`` (``None``: messages not tied to a run), oldest first; ``limit``
        keeps the most recent ones."""
        sql = "SELECT * FROM messages WHERE run_id IS ?"
        params: list[Any] = [run_id]
        if after_id is not None:
            sql += " AND id > ?"
            params.append(int(after_id))
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?)"
            params.append(int(limit))
        return self._rows("messages", sql + " ORDER BY id", params)


def _in_clause(column: str, values: str | Sequence[str] | None) -> tuple[str, list[Any]]:
    if values is None:
        return "", []
    vs = [values] if isinstance(values, str) else list(values)
    return f" WHERE {column} IN ({', '.join('?' * len(vs))})", vs
