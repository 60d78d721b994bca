"""Emulator state in one SQLite file, so a restart keeps everything.

One connection guarded by one re-entrant lock: request threads, the scheduler and the
webhook dispatcher all go through `transaction()`, which keeps read-modify-write
sequences atomic without SQLite busy errors.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    reference TEXT PRIMARY KEY,
    auth_id TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    customer_reference TEXT,
    ip_address TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    reference TEXT PRIMARY KEY,
    auth_id TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    external_reference TEXT,
    session_reference TEXT NOT NULL,
    risk_score TEXT,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    verification_token TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_external_reference
    ON customers (auth_id, external_reference) WHERE external_reference IS NOT NULL;
CREATE TABLE IF NOT EXISTS documents (
    reference TEXT PRIMARY KEY,
    customer_reference TEXT NOT NULL,
    person_reference TEXT,
    type TEXT NOT NULL,
    kind TEXT NOT NULL,
    sub_type TEXT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    meta TEXT NOT NULL,
    content BLOB NOT NULL,
    created_ts REAL NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questionnaires (
    reference TEXT PRIMARY KEY,
    customer_reference TEXT NOT NULL,
    code TEXT NOT NULL,
    sections TEXT NOT NULL,
    status TEXT NOT NULL,
    missing TEXT NOT NULL,
    created_ts REAL NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wallets (
    id TEXT PRIMARY KEY,
    auth_id TEXT NOT NULL,
    customer_reference TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    due_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    auth_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (auth_id, key)
);
CREATE TABLE IF NOT EXISTS create_calls (
    external_reference TEXT PRIMARY KEY,
    succeeded INTEGER NOT NULL DEFAULT 0,
    replayed INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    customer_reference TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    order_key INTEGER NOT NULL DEFAULT 0,
    last_status TEXT,
    last_attempt_at TEXT,
    duplicate_of INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    url TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    status_code INTEGER,
    error TEXT
);
CREATE TABLE IF NOT EXISTS flags (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

TABLES = (
    "sessions",
    "customers",
    "documents",
    "questionnaires",
    "timers",
    "wallets",
    "idempotency",
    "create_calls",
    "deliveries",
    "delivery_attempts",
    "flags",
)
JSON_COLUMNS = {"body", "data", "state", "meta", "sections", "missing"}
# Raw webhook bodies must stay byte-exact: they are signed as stored.
RAW_TEXT = {("deliveries", "body")}


class Store:
    """SQLite-backed state shared by every thread of the emulator."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(create_calls)")}
        if "refused" not in columns:  # a state file from before BVNK_EMULATOR_REPLAY
            self._db.execute(
                "ALTER TABLE create_calls ADD COLUMN refused INTEGER NOT NULL DEFAULT 0"
            )

    def close(self) -> None:
        """Close the database connection."""
        with self.lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the lock and run the block in one SQLite transaction (nesting joins it)."""
        with self.lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def wipe(self) -> None:
        """Delete every row of every table."""
        with self.transaction():
            for table in TABLES:
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)

    # -- generic helpers --------------------------------------------------------------

    def insert(self, table: str, row: Row) -> int:
        """Insert a row (JSON columns encoded) and return its rowid."""
        columns = list(row)
        values = [self._encode(table, c, row[c]) for c in columns]
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (internal names)
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        with self.transaction():
            cursor = self._db.execute(sql, values)
        return int(cursor.lastrowid or 0)

    def update(self, table: str, key: str, key_value: Any, **fields: Any) -> int:
        """Update fields of the row whose `key` column equals `key_value`."""
        assignments = ", ".join(f"{c} = ?" for c in fields)
        values = [self._encode(table, c, v) for c, v in fields.items()]
        sql = f"UPDATE {table} SET {assignments} WHERE {key} = ?"  # noqa: S608
        with self.transaction():
            return self._db.execute(sql, [*values, key_value]).rowcount

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Row]:
        """Run a SELECT and return decoded rows."""
        with self.lock:
            rows = self._db.execute(sql, params).fetchall()
        table = sql.split(" FROM ", 1)[1].split()[0] if " FROM " in sql else ""
        return [self._decode(table, row) for row in rows]

    def one(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Row | None:
        """Run a SELECT and return the first decoded row or None."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        """Run a write statement and return the affected row count."""
        with self.transaction():
            return self._db.execute(sql, params).rowcount

    def get(self, table: str, key: str, key_value: Any) -> Row | None:
        """Return the row whose `key` column equals `key_value`."""
        return self.one(f"SELECT * FROM {table} WHERE {key} = ?", (key_value,))  # noqa: S608

    # -- flags ------------------------------------------------------------------------

    def flag(self, key: str) -> str | None:
        """Return a persisted flag value."""
        row = self.one("SELECT value FROM flags WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_flag(self, key: str, value: str | None) -> None:
        """Set or clear a persisted flag."""
        if value is None:
            self.execute("DELETE FROM flags WHERE key = ?", (key,))
        else:
            self.execute(
                "INSERT INTO flags (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- timers -----------------------------------------------------------------------

    def add_timer(self, kind: str, target: str, due_at: float) -> None:
        """Schedule work for the lifecycle scheduler."""
        self.insert("timers", {"kind": kind, "target": target, "due_at": due_at})

    def cancel_timers(self, target: str, kinds: tuple[str, ...]) -> None:
        """Drop scheduled work of the given kinds for a target."""
        marks = ", ".join("?" for _ in kinds)
        self.execute(
            f"DELETE FROM timers WHERE target = ? AND kind IN ({marks})",  # noqa: S608
            (target, *kinds),
        )

    def due_timers(self, now: float) -> list[Row]:
        """Return timers due by `now`, oldest first."""
        return self.query("SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, id", (now,))

    def delete_timer(self, timer_id: int) -> None:
        """Remove a timer once its work is done (or has failed)."""
        self.execute("DELETE FROM timers WHERE id = ?", (timer_id,))

    def next_timer_due(self) -> float | None:
        """Return when the next timer falls due."""
        row = self.one("SELECT MIN(due_at) AS due FROM timers")
        return row["due"] if row and row["due"] is not None else None

    # -- encoding ---------------------------------------------------------------------

    @staticmethod
    def _encode(table: str, column: str, value: Any) -> Any:
        if column in JSON_COLUMNS and (table, column) not in RAW_TEXT:
            return json.dumps(value, separators=(",", ":"))
        return value

    @staticmethod
    def _decode(table: str, row: sqlite3.Row) -> Row:
        decoded = dict(row)
        for column in JSON_COLUMNS & decoded.keys():
            if (table, column) not in RAW_TEXT and isinstance(decoded[column], str):
                decoded[column] = json.loads(decoded[column])
        return decoded
