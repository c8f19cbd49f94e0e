"""JSON-lines backend of `ConversationLog`: one line per turn in
`<log_dir>/<tenant>/<YYYY-MM-DD>.jsonl` (UTC day of the turn), and the same line on stdout.

Texts arrive already redacted (`ConversationLog.record_turn`). Appends are serialised by a lock,
so lines from concurrent requests never interleave.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date
from pathlib import Path

from core.models import TurnRecord, validate_tenant_id
from core.ports import ConversationLog


class JsonlConversationLog(ConversationLog):
    """Turn records as JSON lines per tenant per day under `log_dir`."""

    def __init__(self, log_dir: Path, stdout: bool = True) -> None:
        self.log_dir = Path(log_dir)
        self.stdout = stdout
        self._lock = threading.Lock()

    def path_for(self, *, tenant_id: str, day: date) -> Path:
        """The file holding `tenant_id`'s turns of `day` (UTC)."""
        validate_tenant_id(tenant_id)  # the id becomes a folder name
        return self.log_dir / tenant_id / f"{day.isoformat()}.jsonl"

    def _write(self, record: TurnRecord) -> None:
        line = record.model_dump_json()
        day = record.timestamp.astimezone(UTC).date()
        path = self.path_for(tenant_id=record.tenant_id, day=day)
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # owner-only: the log is masked, but still a record of customers' words
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            if self.stdout:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()

    def read_turns(self, *, tenant_id: str, day: date) -> Iterator[TurnRecord]:
        """The records of one tenant and day, in write order (for analytics and tests)."""
        path = self.path_for(tenant_id=tenant_id, day=day)
        if not path.exists():
            return
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield TurnRecord.model_validate_json(line)
