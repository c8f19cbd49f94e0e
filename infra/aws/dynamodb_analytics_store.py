"""AnalyticsStore on DynamoDB, in the single table.

- counters of one tenant and day: one item `PK=TENANT#<t>#STATS SK=DAY#<yyyy-mm-dd>` whose
  numeric attributes `c.<counter>` are incremented with one `UpdateItem ADD` per turn (atomic, and
  the new values come back with `ReturnValues=UPDATED_NEW`); a day's item stays small (a few
  hundred counters at most: sources, the tenant's intents, latency buckets);
- unanswered questions: `PK=TENANT#<t>#STATS SK=UNANSWERED#<day>#<slot>`, a ring of
  `unanswered_per_day` items per day;
- every item carries the numeric TTL attribute `expires_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.models import UnansweredQuestion
from core.ports import AnalyticsStore
from infra.aws.dynamodb_items import epoch, n, query_items, s, tenant_pk

_PREFIX = "c."


def stats_pk(tenant_id: str) -> str:
    return f"{tenant_pk(tenant_id)}#STATS"


class DynamoDBAnalyticsStore(AnalyticsStore):
    def __init__(
        self,
        *,
        table_name: str,
        client: Any,
        unanswered_per_day: int = 100,
        retention_days: int = 400,
    ) -> None:
        super().__init__(unanswered_per_day=unanswered_per_day, retention_days=retention_days)
        self.table = table_name
        self.client = client

    def _add(
        self, tenant_id: str, day: str, counts: dict[str, int], expires_at: datetime
    ) -> dict[str, int]:
        names: dict[str, str] = {"#ttl": "expires_at"}
        values: dict[str, Any] = {":ttl": n(epoch(expires_at) or 0)}
        adds: list[str] = []
        for i, (name, value) in enumerate(counts.items()):
            names[f"#c{i}"] = _PREFIX + name
            values[f":c{i}"] = n(value)
            adds.append(f"#c{i} :c{i}")
        response = self.client.update_item(
            TableName=self.table,
            Key={"PK": s(stats_pk(tenant_id)), "SK": s(f"DAY#{day}")},
            UpdateExpression=f"SET #ttl = :ttl ADD {', '.join(adds)}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
        updated = response.get("Attributes", {})
        return {
            key[len(_PREFIX) :]: int(value["N"])
            for key, value in updated.items()
            if key.startswith(_PREFIX)
        }

    def _get_days(self, tenant_id: str, start: str, end: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for item in query_items(
            self.client,
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": s(stats_pk(tenant_id)),
                ":lo": s(f"DAY#{start}"),
                ":hi": s(f"DAY#{end}"),
            },
            ConsistentRead=True,
        ):
            day = item["SK"]["S"][len("DAY#") :]
            out[day] = {
                key[len(_PREFIX) :]: int(value["N"])
                for key, value in item.items()
                if key.startswith(_PREFIX)
            }
        return out

    def _put_unanswered(
        self,
        tenant_id: str,
        day: str,
        slot: int,
        question: UnansweredQuestion,
        expires_at: datetime,
    ) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "PK": s(stats_pk(tenant_id)),
                "SK": s(f"UNANSWERED#{day}#{slot:05d}"),
                "data": s(question.model_dump_json()),
                "expires_at": n(epoch(expires_at) or 0),
            },
        )

    def _get_unanswered(self, tenant_id: str, start: str, end: str) -> list[UnansweredQuestion]:
        return [
            UnansweredQuestion.model_validate_json(item["data"]["S"])
            for item in query_items(
                self.client,
                TableName=self.table,
                KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
                ExpressionAttributeValues={
                    ":pk": s(stats_pk(tenant_id)),
                    ":lo": s(f"UNANSWERED#{start}#"),
                    ":hi": s(f"UNANSWERED#{end}#~"),
                },
                ConsistentRead=True,
            )
        ]
