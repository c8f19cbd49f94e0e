"""SQLite backend of `AnalyticsStore`: per-tenant daily counters and the per-day ring of
unanswered questions, in the local database file shared with the other stores.

- counters: one row per (tenant, day, counter), incremented with an UPSERT inside an immediate
  transaction that also reads the new values back (so the ring's sequence number is exact);
- unanswered questions: one row per (tenant, day, slot), overwritten when the ring wraps.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.models import UnansweredQuestion
from core.ports import AnalyticsStore
from infra.local.sqlite_database import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analytics_counters (
    tenant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analytics_unanswered (
    tenant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    slot INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, day, slot)
) WITHOUT ROWID
"""


class SqliteAnalyticsStore(AnalyticsStore):
    """Analytics counters in `db_path` (shared with the other local stores)."""

    def __init__(
        self, db_path: Path, *, unanswered_per_day: int = 100, retention_days: int = 400
    ) -> None:
        super().__init__(unanswered_per_day=unanswered_per_day, retention_days=retention_days)
        self.db = SqliteDatabase(db_path)
        self.db.execute_script(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _add(
        self, tenant_id: str, day: str, counts: dict[str, int], expires_at: datetime
    ) -> dict[str, int]:
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO analytics_counters (tenant_id, day, name, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, day, name) DO UPDATE SET value = value + excluded.value",
                [(tenant_id, day, name, value) for name, value in counts.items()],
            )
            marks = ", ".join("?" for _ in counts)
            rows = conn.execute(
                f"SELECT name, value FROM analytics_counters WHERE tenant_id = ? AND day = ? "
                f"AND name IN ({marks})",
                (tenant_id, day, *counts),
            ).fetchall()
        return {name: int(value) for name, value in rows}

    def _get_days(self, tenant_id: str, start: str, end: str) -> dict[str, dict[str, int]]:
        rows = self.db.connection().execute(
            "SELECT day, name, value FROM analytics_counters WHERE tenant_id = ? "
            "AND day BETWEEN ? AND ?",
            (tenant_id, start, end),
        )
        out: dict[str, dict[str, int]] = {}
        for day, name, value in rows:
            out.setdefault(day, {})[name] = int(value)
        return out

    def _put_unanswered(
        self,
        tenant_id: str,
        day: str,
        slot: int,
        question: UnansweredQuestion,
        expires_at: datetime,
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO analytics_unanswered (tenant_id, day, slot, data) "
                "VALUES (?, ?, ?, ?)",
                (tenant_id, day, slot, question.model_dump_json()),
            )

    def _get_unanswered(self, tenant_id: str, start: str, end: str) -> list[UnansweredQuestion]:
        rows = self.db.connection().execute(
            "SELECT data FROM analytics_unanswered WHERE tenant_id = ? AND day BETWEEN ? AND ?",
            (tenant_id, start, end),
        )
        return [UnansweredQuestion.model_validate_json(data) for (data,) in rows]
