"""One SQLite database file shared by the local stores, safe under many threads.

Each thread gets its own connection (`threading.local`); every connection runs in WAL mode with a
busy timeout, so readers never block the writer and writers queue instead of failing.
Read-modify-write work goes through `transaction()`, which opens with `BEGIN IMMEDIATE`: the
write lock is taken up front, so two transactions never both read and then both write.

The tenant, history and job stores each hold one `SqliteDatabase` over the same file
(`<data>/lambdesk.db`) and create their own tables idempotently.

WAL checkpoints run in the background: SQLite's automatic checkpoint runs inside whichever commit
crosses 1,000 pages, and that request paid for copying and syncing the pages (the slowest chat
turns were those). Connections turn it off, and one daemon thread per process checks every open
database each `CHECKPOINT_INTERVAL_S` and checkpoints those whose WAL file has grown past
`CHECKPOINT_WAL_BYTES` (about SQLite's own 1,000 pages) with `PRAGMA wal_checkpoint(PASSIVE)`,
which waits for no reader or writer. `journal_size_limit` truncates the WAL file when a writer
starts it over after a checkpoint, so its size tells how much was written since. A small
database (a test's) is never checkpointed, as before: no fsync for it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_INTERVAL_S = 1.0
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
WAL_SIZE_LIMIT_BYTES = 1024 * 1024  # what a WAL file is cut back to when it starts over


def to_epoch(value: datetime | None) -> float | None:
    """Datetimes are stored as epoch seconds (REAL) so indexes sort them correctly."""
    return None if value is None else value.timestamp()


class SqliteDatabase:
    """Per-thread connections to one database file, plus an immediate-mode transaction helper."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Readable by its owner only (SQLite gives its -wal and -shm files the same mode).
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(self.path, 0o600)
        self._local = threading.local()
        self._lock = threading.Lock()
        # (owning thread, connection): lets close() reach every connection, and lets us close
        # the connections of threads that have ended.
        self._connections: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: one statement is one transaction)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise RuntimeError(f"database {self.path} is closed")
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # only so close() may close it from another thread
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the background checkpointer's job
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
        self._local.conn = conn
        _CHECKPOINTER.add(self)
        with self._lock:
            alive = []
            for owner, other in self._connections:
                if owner() is None:  # the thread ended: its connection is no longer reachable
                    other.close()
                else:
                    alive.append((owner, other))
            alive.append((weakref.ref(threading.current_thread()), conn))
            self._connections = alive
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` … `COMMIT` (or `ROLLBACK` when the block raises)."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def execute_script(self, script: str) -> None:
        """Run DDL (idempotent `CREATE … IF NOT EXISTS` statements) in one transaction."""
        with self.transaction() as conn:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def close(self) -> None:
        """Close every connection this object opened (any thread)."""
        with self._lock:
            self._closed = True
            for _, conn in self._connections:
                conn.close()
            self._connections = []
        self._local = threading.local()


class _Checkpointer:
    """The process's background WAL checkpoints (see the module docstring): one daemon thread,
    started with the first connection, holding the databases weakly and a connection of its own
    per file (opened read-write without creating: a removed file stays removed)."""

    def __init__(self) -> None:
        self._databases: weakref.WeakSet[SqliteDatabase] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, database: SqliteDatabase) -> None:
        with self._lock:
            self._databases.add(database)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="lambdesk-sqlite-checkpoint", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        connections: dict[Path, sqlite3.Connection] = {}
        while True:
            time.sleep(CHECKPOINT_INTERVAL_S)
            with self._lock:
                paths = {db.path for db in list(self._databases) if not db._closed}
            checkpoint(paths, connections)


def checkpoint(
    paths: set[Path],
    connections: dict[Path, sqlite3.Connection],
    *,
    min_wal_bytes: int = CHECKPOINT_WAL_BYTES,
) -> None:
    """One round of the checkpointer: a passive checkpoint of each database in `paths` whose
    WAL file holds at least `min_wal_bytes`, over `connections` (its own, kept between rounds;
    those of paths no longer open are closed)."""
    for path in [p for p in connections if p not in paths]:
        connections.pop(path).close()
    for path in paths:
        try:
            if os.stat(f"{path}-wal").st_size < min_wal_bytes:
                continue
        except OSError:  # no WAL (yet, or any more)
            continue
        try:
            conn = connections.get(path)
            if conn is None:
                conn = sqlite3.connect(
                    f"file:{quote(str(path))}?mode=rw",
                    uri=True,
                    timeout=1.0,
                    isolation_level=None,
                )
                connections[path] = conn
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:  # gone or busy: try again next round
            failed = connections.pop(path, None)
            if failed is not None:
                failed.close()


_CHECKPOINTER = _Checkpointer()
