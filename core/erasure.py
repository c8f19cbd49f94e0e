"""The right to erasure: `DELETE /v1/sessions/{id}` removes everything the session left behind.

`ErasureService.erase_session` deletes, in this order: each job of the session (voice turns:
their transcripts and replies live in the job's result) with the blobs it made (the uploaded
audio `audio/in/<job>`, the spoken replies `audio/out/<job>.*`), the session's own blobs
(`sessions/<session>/…`: images a customer attached), then the messages, the session state and
the ratings. Once the state is gone, the session's tokens reach nothing: every route looks the
session up first, so they get 404 like a stranger's. Running it twice is harmless.

Not erased here (say so to a data subject): the conversation log (personal data masked; kept for
its retention period), the analytics counters (numbers only) and the day's sample of unanswered
questions (masked, kept at most for the analytics window).
"""

from __future__ import annotations

import logging

from core.ports import BlobStore, HistoryStore, JobStore

logger = logging.getLogger("lambdesk.erasure")


def session_blob_prefix(session_id: str) -> str:
    """Where a session's own files (attached images) are stored."""
    return f"sessions/{session_id}/"


class ErasureService:
    def __init__(self, *, history: HistoryStore, jobs: JobStore, blobs: BlobStore) -> None:
        self.history = history
        self.jobs = jobs
        self.blobs = blobs

    def erase_session(self, *, tenant_id: str, session_id: str) -> dict[str, int]:
        """Erase the session and everything it produced; returns what was deleted."""
        removed = {"jobs": 0, "blobs": 0}
        for job in self.jobs.list_session_jobs(tenant_id=tenant_id, session_id=session_id):
            for prefix in (f"audio/in/{job.job_id}", f"audio/out/{job.job_id}."):
                removed["blobs"] += self.blobs.delete_prefix(tenant_id=tenant_id, prefix=prefix)
            self.jobs.delete_job(tenant_id=tenant_id, job_id=job.job_id)
            removed["jobs"] += 1
        removed["blobs"] += self.blobs.delete_prefix(
            tenant_id=tenant_id, prefix=session_blob_prefix(session_id)
        )
        removed["session"] = int(
            self.history.delete_session(tenant_id=tenant_id, session_id=session_id)
        )
        logger.info("session erased", extra={"tenant": tenant_id, "session": session_id, **removed})
        return removed
