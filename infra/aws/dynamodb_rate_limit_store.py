"""DynamoDB backend of `RateLimitStore`: one item per (key, window) counter
(`PK=RATE#<key>#<window>`, `SK=RATE`), incremented with an atomic `ADD`; DynamoDB's TTL removes
the items of ended windows. One counter is shared by every Lambda container of a stage."""

from __future__ import annotations

from typing import Any

from core.ports import RateLimitStore
from infra.aws.dynamodb_items import n, s


class DynamoDBRateLimitStore(RateLimitStore):
    def __init__(self, *, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    def _increment(self, key: str, *, expires_at: float) -> int:
        response = self.client.update_item(
            TableName=self.table,
            Key={"PK": s(f"RATE#{key}"), "SK": s("RATE")},
            UpdateExpression="ADD #c :one SET expires_at = if_not_exists(expires_at, :exp)",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": n(1), ":exp": n(int(expires_at))},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["count"]["N"])
