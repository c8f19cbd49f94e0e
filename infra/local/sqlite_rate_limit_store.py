"""SQLite backend of `RateLimitStore`: one row per (key, window) counter, incremented with an
atomic upsert; rows of ended windows are pruned now and then."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from core.ports import RateLimitStore
from infra.local.sqlite_database import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID
"""
PRUNE_EVERY = 1000


class SqliteRateLimitStore(RateLimitStore):
    def __init__(self, db_path: Path) -> None:
        self.db = SqliteDatabase(db_path)
        self.db.execute_script(_SCHEMA)
        self._calls = itertools.count(1)

    def _increment(self, key: str, *, expires_at: float) -> int:
        with self.db.transaction() as conn:
            (count,) = conn.execute(
                "INSERT INTO rate_limits (key, count, expires_at) VALUES (?, 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count",
                (key, expires_at),
            ).fetchone()
            if next(self._calls) % PRUNE_EVERY == 0:
                conn.execute("DELETE FROM rate_limits WHERE expires_at < ?", (time.time(),))
        return int(count)

    def close(self) -> None:
        self.db.close()
