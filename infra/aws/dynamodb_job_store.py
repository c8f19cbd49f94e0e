"""JobStore on DynamoDB: `PK=TENANT#<t>#JOB#<id> SK=JOB`, with the model's JSON in `data`.

While a job is queued or running it also sits in the sparse GSI2 partition `JOBS#UNFINISHED`
(sorted by creation time), which is how a restarted worker finds every tenant's unfinished jobs
without a scan; a finished job drops out of that index by losing its GSI2 attributes.
A status-guarded update is a conditional write on the `status` attribute.
"""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, NotFound, VersionConflict
from core.models import Job, JobStatus
from core.ports import JobStore
from infra.aws.dynamodb_items import (
    is_condition_failure,
    query_items,
    s,
    session_pk,
    sortable_time,
    tenant_pk,
    ttl_attr,
)
from infra.aws.table_schema import GSI2

UNFINISHED_PARTITION = "JOBS#UNFINISHED"
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class DynamoDBJobStore(JobStore):
    def __init__(self, *, table_name: str, client: Any, ttl_days: int = 7) -> None:
        super().__init__(ttl_days=ttl_days)
        self.table = table_name
        self.client = client

    @staticmethod
    def _key(tenant_id: str, job_id: str) -> dict[str, Any]:
        return {"PK": s(f"{tenant_pk(tenant_id)}#JOB#{job_id}"), "SK": s("JOB")}

    def _item(self, job: Job) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(job.tenant_id, job.job_id),
            "status": s(job.status.value),
            "data": s(job.model_dump_json()),
        }
        if job.status in UNFINISHED:
            item["GSI2PK"] = s(UNFINISHED_PARTITION)
            item["GSI2SK"] = s(f"{sortable_time(job.created_at)}#{job.tenant_id}#{job.job_id}")
        return ttl_attr(item, job.expires_at)

    @staticmethod
    def _ref_key(tenant_id: str, session_id: str, job_id: str) -> dict[str, Any]:
        """A pointer to the job in its session's partition: erasure finds a session's jobs
        with one query, and a session's partition never holds the job's data itself."""
        return {"PK": s(session_pk(tenant_id, session_id)), "SK": s(f"JOBREF#{job_id}")}

    def _create_job(self, job: Job) -> None:
        put = {
            "TableName": self.table,
            "Item": self._item(job),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        try:
            if not job.session_id:
                self.client.put_item(**put)
                return
            ref = ttl_attr(
                {
                    **self._ref_key(job.tenant_id, job.session_id, job.job_id),
                    "job_id": s(job.job_id),
                },
                job.expires_at,
            )
            self.client.transact_write_items(
                TransactItems=[{"Put": put}, {"Put": {"TableName": self.table, "Item": ref}}]
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise Conflict(f"job {job.job_id!r} already exists") from exc
            raise

    def _list_session_jobs(self, tenant_id: str, session_id: str) -> list[Job]:
        jobs: list[Job] = []
        for item in query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :ref)",
            ExpressionAttributeValues={
                ":pk": s(session_pk(tenant_id, session_id)),
                ":ref": s("JOBREF#"),
            },
            ConsistentRead=True,
        ):
            job = self._get_job(tenant_id, item["job_id"]["S"])
            if job is not None:
                jobs.append(job)
        return jobs

    def _delete_job(self, tenant_id: str, job_id: str) -> None:
        job = self._get_job(tenant_id, job_id)
        self.client.delete_item(TableName=self.table, Key=self._key(tenant_id, job_id))
        if job is not None and job.session_id:
            self.client.delete_item(
                TableName=self.table, Key=self._ref_key(tenant_id, job.session_id, job_id)
            )

    def _get_job(self, tenant_id: str, job_id: str) -> Job | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(tenant_id, job_id), ConsistentRead=True
        )
        item = response.get("Item")
        return Job.model_validate_json(item["data"]["S"]) if item else None

    def _update_job(self, job: Job, expected_status: JobStatus | None) -> None:
        condition = "attribute_exists(PK)"
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if expected_status is not None:
            condition += " AND #status = :expected"
            names["#status"] = "status"
            values[":expected"] = s(expected_status.value)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Item": self._item(job),
            "ConditionExpression": condition,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
            kwargs["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(**kwargs)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
            if self._get_job(job.tenant_id, job.job_id) is None:
                raise NotFound(f"job {job.job_id!r} not found") from exc
            expected = expected_status.value if expected_status else "?"
            raise VersionConflict(f"job {job.job_id!r} is no longer {expected}") from exc

    def _list_unfinished(self, limit: int) -> list[Job]:
        jobs: list[Job] = []
        for item in query_items(
            self.client,
            TableName=self.table,
            IndexName=GSI2,
            KeyConditionExpression="GSI2PK = :p",
            ExpressionAttributeValues={":p": s(UNFINISHED_PARTITION)},
            Limit=limit,
        ):
            jobs.append(Job.model_validate_json(item["data"]["S"]))
            if len(jobs) >= limit:
                break
        return jobs
