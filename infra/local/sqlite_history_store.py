"""SQLite backend of `HistoryStore`: one row per message, one state row per session, and
idempotency records, all keyed by tenant.

- messages: primary key (tenant, session, message_id); message ids are ULIDs, so the key order is
  the conversation order and paging is a range scan.
- session state: optimistic concurrency on `version` through conditional INSERT/UPDATE
  (`VersionConflict` when the stored version moved); indexed by (tenant, last activity) for the
  sessions listing and the handoff queue.
- idempotency: a claim inserts unless an unexpired record exists (expired ones are replaced in the
  same immediate transaction).
- feedback: one row per rated message, replaced in an immediate transaction that reads the old
  one first; erased with the session.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from core.errors import BadRequest, IdempotencyLost, VersionConflict
from core.models import (
    Feedback,
    HandoffStatus,
    IdempotencyCompletion,
    IdempotencyRecord,
    Message,
    SessionPage,
    SessionState,
    utcnow,
)
from core.ports import HistoryStore
from infra.local.sqlite_database import SqliteDatabase, to_epoch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS session_states (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    handoff TEXT NOT NULL,
    last_activity REAL NOT NULL,
    expires_at REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id)
);
CREATE INDEX IF NOT EXISTS session_states_by_activity
    ON session_states (tenant_id, last_activity DESC, session_id DESC);
CREATE TABLE IF NOT EXISTS message_feedback (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    expires_at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
)
"""

_HANDOFF_QUEUE = (HandoffStatus.WAITING.value, HandoffStatus.ACTIVE.value)


def _encode_cursor(last_activity: float, session_id: str) -> str:
    raw = json.dumps([last_activity, session_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        last_activity, session_id = json.loads(raw)
        return float(last_activity), str(session_id)
    except (ValueError, TypeError) as exc:
        raise BadRequest("invalid cursor") from exc


class SqliteHistoryStore(HistoryStore):
    """Chat history in `db_path` (shared with the other local stores)."""

    def __init__(self, db_path: Path, ttl_days: int = 90) -> None:
        super().__init__(ttl_days=ttl_days)
        self.db = SqliteDatabase(db_path)
        self.db.execute_script(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # messages ---------------------------------------------------------------
    def _put_messages(self, tenant_id: str, session_id: str, messages: list[Message]) -> None:
        rows = [
            (tenant_id, session_id, m.message_id, to_epoch(m.expires_at), m.model_dump_json())
            for m in messages
        ]
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO messages "
                "(tenant_id, session_id, message_id, expires_at, data) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def _get_messages(
        self, tenant_id: str, session_id: str, *, limit: int, after: str | None
    ) -> list[Message]:
        rows = self.db.connection().execute(
            "SELECT data FROM messages WHERE tenant_id = ? AND session_id = ? AND message_id > ? "
            "ORDER BY message_id LIMIT ?",
            (tenant_id, session_id, after or "", limit),
        )
        return [Message.model_validate_json(data) for (data,) in rows]

    def _get_message(self, tenant_id: str, session_id: str, message_id: str) -> Message | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT data FROM messages WHERE tenant_id = ? AND session_id = ? "
                "AND message_id = ?",
                (tenant_id, session_id, message_id),
            )
            .fetchone()
        )
        return None if row is None else Message.model_validate_json(row[0])

    # feedback ---------------------------------------------------------------
    def _swap_feedback(self, feedback: Feedback) -> Feedback | None:
        key = (feedback.tenant_id, feedback.session_id, feedback.message_id)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT data FROM message_feedback WHERE tenant_id = ? AND session_id = ? "
                "AND message_id = ?",
                key,
            ).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO message_feedback "
                "(tenant_id, session_id, message_id, data) VALUES (?, ?, ?, ?)",
                (*key, feedback.model_dump_json()),
            )
        return None if row is None else Feedback.model_validate_json(row[0])

    def _get_feedback(self, tenant_id: str, session_id: str, message_id: str) -> Feedback | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT data FROM message_feedback WHERE tenant_id = ? AND session_id = ? "
                "AND message_id = ?",
                (tenant_id, session_id, message_id),
            )
            .fetchone()
        )
        return None if row is None else Feedback.model_validate_json(row[0])

    # session state ----------------------------------------------------------
    def _get_state(self, tenant_id: str, session_id: str) -> SessionState | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT data FROM session_states WHERE tenant_id = ? AND session_id = ?",
                (tenant_id, session_id),
            )
            .fetchone()
        )
        return None if row is None else SessionState.model_validate_json(row[0])

    def _commit(
        self,
        state: SessionState,
        expected_version: int | None,
        messages: list[Message],
        completion: IdempotencyCompletion | None,
    ) -> None:
        values = (
            state.tenant_id,
            state.session_id,
            state.version,
            state.handoff.value,
            to_epoch(state.last_activity),
            to_epoch(state.expires_at),
            state.model_dump_json(),
        )
        with self.db.transaction() as conn:  # the state and the messages, or neither
            if expected_version is None:
                # Create; an expired state (invisible to readers) counts as absent.
                cursor = conn.execute(
                    "INSERT INTO session_states (tenant_id, session_id, version, handoff, "
                    "last_activity, expires_at, data) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (tenant_id, session_id) DO UPDATE SET version = excluded.version, "
                    "handoff = excluded.handoff, last_activity = excluded.last_activity, "
                    "expires_at = excluded.expires_at, data = excluded.data "
                    "WHERE session_states.expires_at IS NOT NULL "
                    "AND session_states.expires_at <= ?",
                    (*values, utcnow().timestamp()),
                )
            else:
                cursor = conn.execute(
                    "UPDATE session_states SET version = ?, handoff = ?, last_activity = ?, "
                    "expires_at = ?, data = ? WHERE tenant_id = ? AND session_id = ? "
                    "AND version = ?",
                    (*values[2:], state.tenant_id, state.session_id, expected_version),
                )
            if cursor.rowcount != 1:
                raise VersionConflict(
                    f"session {state.session_id!r} state changed (expected version "
                    f"{expected_version})"
                )
            if completion is not None and not self._complete_in(
                conn, completion.tenant_id, completion.key, completion.response, completion.owner
            ):
                raise IdempotencyLost("another request took this Idempotency-Key over")
            if messages:
                conn.executemany(
                    "INSERT OR REPLACE INTO messages "
                    "(tenant_id, session_id, message_id, expires_at, data) VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            state.tenant_id,
                            state.session_id,
                            m.message_id,
                            to_epoch(m.expires_at),
                            m.model_dump_json(),
                        )
                        for m in messages
                    ],
                )

    def _delete_session(self, tenant_id: str, session_id: str) -> bool:
        with self.db.transaction() as conn:
            messages = conn.execute(
                "DELETE FROM messages WHERE tenant_id = ? AND session_id = ?",
                (tenant_id, session_id),
            ).rowcount
            states = conn.execute(
                "DELETE FROM session_states WHERE tenant_id = ? AND session_id = ?",
                (tenant_id, session_id),
            ).rowcount
            conn.execute(
                "DELETE FROM message_feedback WHERE tenant_id = ? AND session_id = ?",
                (tenant_id, session_id),
            )
        return messages + states > 0

    def _list_sessions(
        self, tenant_id: str, *, limit: int, cursor: str | None, handoff_only: bool
    ) -> SessionPage:
        sql = (
            "SELECT last_activity, session_id, data FROM session_states WHERE tenant_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?)"
        )
        params: list[Any] = [tenant_id, utcnow().timestamp()]
        if handoff_only:
            sql += " AND handoff IN (?, ?)"
            params.extend(_HANDOFF_QUEUE)
        if cursor:
            last_activity, session_id = _decode_cursor(cursor)
            sql += " AND (last_activity < ? OR (last_activity = ? AND session_id < ?))"
            params.extend([last_activity, last_activity, session_id])
        sql += " ORDER BY last_activity DESC, session_id DESC LIMIT ?"
        params.append(limit + 1)
        rows = self.db.connection().execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [SessionState.model_validate_json(data) for _, _, data in rows]
        next_cursor = _encode_cursor(rows[-1][0], rows[-1][1]) if more else None
        return SessionPage(items=items, next_cursor=next_cursor)

    # idempotency ------------------------------------------------------------
    def _claim_idempotency(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        now = utcnow()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT data, expires_at FROM idempotency WHERE tenant_id = ? AND key = ?",
                (record.tenant_id, record.key),
            ).fetchone()
            if row is not None and row[1] > now.timestamp():
                existing = IdempotencyRecord.model_validate_json(row[0])
                if existing.response is not None or (
                    existing.lease_until is not None and existing.lease_until > now
                ):
                    return existing
                # in progress, but its owner's lease ran out: take the claim over
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (tenant_id, key, completed, expires_at, data) "
                "VALUES (?, ?, 0, ?, ?)",
                (
                    record.tenant_id,
                    record.key,
                    record.expires_at.timestamp(),
                    record.model_dump_json(),
                ),
            )
        return None

    @staticmethod
    def _complete_in(
        conn: Any, tenant_id: str, key: str, response: dict[str, Any], owner: str
    ) -> bool:
        """Store the response if `owner` still holds the in-progress claim (inside a
        transaction); False when it does not."""
        row = conn.execute(
            "SELECT data FROM idempotency WHERE tenant_id = ? AND key = ?", (tenant_id, key)
        ).fetchone()
        if row is None:
            return False
        record = IdempotencyRecord.model_validate_json(row[0])
        if record.response is not None or record.owner != owner:
            return False
        record = record.model_copy(update={"response": response})
        conn.execute(
            "UPDATE idempotency SET completed = 1, data = ? WHERE tenant_id = ? AND key = ?",
            (record.model_dump_json(), tenant_id, key),
        )
        return True

    def _complete_idempotency(
        self, tenant_id: str, key: str, response: dict[str, Any], owner: str
    ) -> None:
        with self.db.transaction() as conn:
            self._complete_in(conn, tenant_id, key, response, owner)

    def _release_idempotency(self, tenant_id: str, key: str, owner: str) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT data FROM idempotency WHERE tenant_id = ? AND key = ? AND completed = 0",
                (tenant_id, key),
            ).fetchone()
            if row is not None and IdempotencyRecord.model_validate_json(row[0]).owner == owner:
                conn.execute(
                    "DELETE FROM idempotency WHERE tenant_id = ? AND key = ? AND completed = 0",
                    (tenant_id, key),
                )
