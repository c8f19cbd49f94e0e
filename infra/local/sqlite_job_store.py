"""SQLite backend of `JobStore`: async jobs keyed by (tenant, job id).

`_update_job` with an expected status is a conditional UPDATE, which is how a worker claims a
queued job exactly once; unfinished jobs are indexed by (status, created_at) for restart recovery.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.errors import Conflict, NotFound, VersionConflict
from core.models import Job, JobStatus, utcnow
from core.ports import JobStore
from infra.local.sqlite_database import SqliteDatabase, to_epoch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    tenant_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, job_id)
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
CREATE TABLE IF NOT EXISTS session_jobs (
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id, job_id)
) WITHOUT ROWID
"""

_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class SqliteJobStore(JobStore):
    """Jobs in `db_path` (shared with the other local stores)."""

    def __init__(self, db_path: Path, ttl_days: int = 7) -> None:
        super().__init__(ttl_days=ttl_days)
        self.db = SqliteDatabase(db_path)
        self.db.execute_script(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _create_job(self, job: Job) -> None:
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO jobs (tenant_id, job_id, status, created_at, expires_at, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        job.tenant_id,
                        job.job_id,
                        job.status.value,
                        to_epoch(job.created_at),
                        to_epoch(job.expires_at),
                        job.model_dump_json(),
                    ),
                )
                if job.session_id:
                    conn.execute(
                        "INSERT OR IGNORE INTO session_jobs (tenant_id, session_id, job_id) "
                        "VALUES (?, ?, ?)",
                        (job.tenant_id, job.session_id, job.job_id),
                    )
        except sqlite3.IntegrityError:
            raise Conflict(f"job {job.job_id!r} already exists") from None

    def _list_session_jobs(self, tenant_id: str, session_id: str) -> list[Job]:
        rows = self.db.connection().execute(
            "SELECT jobs.data FROM session_jobs JOIN jobs USING (tenant_id, job_id) "
            "WHERE session_jobs.tenant_id = ? AND session_jobs.session_id = ?",
            (tenant_id, session_id),
        )
        return [Job.model_validate_json(data) for (data,) in rows]

    def _delete_job(self, tenant_id: str, job_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM jobs WHERE tenant_id = ? AND job_id = ?", (tenant_id, job_id))
            conn.execute(
                "DELETE FROM session_jobs WHERE tenant_id = ? AND job_id = ?", (tenant_id, job_id)
            )

    def _get_job(self, tenant_id: str, job_id: str) -> Job | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT data FROM jobs WHERE tenant_id = ? AND job_id = ?", (tenant_id, job_id)
            )
            .fetchone()
        )
        return None if row is None else Job.model_validate_json(row[0])

    def _update_job(self, job: Job, expected_status: JobStatus | None) -> None:
        sql = (
            "UPDATE jobs SET status = ?, expires_at = ?, data = ? "
            "WHERE tenant_id = ? AND job_id = ?"
        )
        params: list[object] = [
            job.status.value,
            to_epoch(job.expires_at),
            job.model_dump_json(),
            job.tenant_id,
            job.job_id,
        ]
        if expected_status is not None:
            sql += " AND status = ?"
            params.append(expected_status.value)
        with self.db.transaction() as conn:
            if conn.execute(sql, params).rowcount == 1:
                return
            exists = conn.execute(
                "SELECT 1 FROM jobs WHERE tenant_id = ? AND job_id = ?",
                (job.tenant_id, job.job_id),
            ).fetchone()
        if exists is None:
            raise NotFound(f"job {job.job_id!r} not found")
        raise VersionConflict(
            f"job {job.job_id!r} is no longer {expected_status.value if expected_status else '?'}"
        )

    def _list_unfinished(self, limit: int) -> list[Job]:
        rows = self.db.connection().execute(
            "SELECT data FROM jobs WHERE status IN (?, ?) "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at LIMIT ?",
            (*_UNFINISHED, utcnow().timestamp(), limit),
        )
        return [Job.model_validate_json(data) for (data,) in rows]
