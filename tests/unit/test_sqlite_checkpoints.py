"""WAL checkpoints of the local database run off the request path: a store's connection never
checkpoints inside a commit, and a background round checkpoints what commits wrote without ever
creating a database file that is not there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from infra.local.sqlite_database import SqliteDatabase, checkpoint


def test_a_stores_connection_never_checkpoints_in_a_commit(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "lambdesk.db")
    try:
        conn = db.connection()
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        assert conn.execute("PRAGMA journal_size_limit").fetchone() == (1024 * 1024,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


def test_a_round_checkpoints_what_commits_wrote(tmp_path: Path) -> None:
    # A database of its own (not a SqliteDatabase: the process's checkpointer never sees it).
    path = tmp_path / "own.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    for k in range(50):
        writer.execute("INSERT INTO t VALUES (?, ?)", (k, "x" * 3000))
    assert Path(f"{path}-wal").stat().st_size > 50 * 3000  # every commit went to the WAL
    assert path.stat().st_size < 50 * 3000  # and none was copied back into the database

    connections: dict[Path, sqlite3.Connection] = {}
    checkpoint({path}, connections)  # a small WAL is left alone (no fsync for a test's database)
    assert connections == {} and path.stat().st_size < 50 * 3000
    checkpoint({path}, connections, min_wal_bytes=100 * 1024)
    assert set(connections) == {path}
    assert path.stat().st_size > 50 * 3000  # the round copied the pages back
    checkpoint(set(), connections)  # a database no longer open: its connection is closed
    assert connections == {}
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (50,)
    writer.close()


def test_a_round_never_creates_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    connections: dict[Path, sqlite3.Connection] = {}
    checkpoint({missing}, connections)
    assert not missing.exists() and connections == {}
