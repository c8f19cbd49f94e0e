"""TenantStore on DynamoDB: tenant profiles and hashed API keys in the single table.

Tenant `PK=TENANT#<t> SK=PROFILE` (listed through the sparse GSI2 partition `TENANTS`); key
`PK=KEY#<sha256> SK=KEY` (a tenant's keys through GSI1 `TENANT#<t>#KEYS`). Each item keeps the
model's JSON in `data` beside its key attributes.
"""

from __future__ import annotations

from typing import Any

from core.errors import Conflict
from core.models import ApiKey, Tenant
from core.ports import TenantStore
from infra.aws.dynamodb_items import is_condition_failure, query_items, s, tenant_pk
from infra.aws.table_schema import GSI1, GSI2

TENANTS_PARTITION = "TENANTS"


class DynamoDBTenantStore(TenantStore):
    def __init__(self, *, table_name: str, client: Any) -> None:
        self.table = table_name
        self.client = client

    # tenants -----------------------------------------------------------------
    def _tenant_item(self, tenant: Tenant) -> dict[str, Any]:
        return {
            "PK": s(tenant_pk(tenant.tenant_id)),
            "SK": s("PROFILE"),
            "GSI2PK": s(TENANTS_PARTITION),
            "GSI2SK": s(tenant.tenant_id),
            "data": s(tenant.model_dump_json()),
        }

    def _create_tenant(self, tenant: Tenant) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._tenant_item(tenant),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except Exception as exc:
            if is_condition_failure(exc):
                raise Conflict(f"tenant {tenant.tenant_id!r} already exists") from exc
            raise

    def _put_tenant(self, tenant: Tenant) -> None:
        self.client.put_item(TableName=self.table, Item=self._tenant_item(tenant))

    def _get_tenant(self, tenant_id: str) -> Tenant | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"PK": s(tenant_pk(tenant_id)), "SK": s("PROFILE")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Tenant.model_validate_json(item["data"]["S"]) if item else None

    def _list_tenants(self) -> list[Tenant]:
        items = query_items(
            self.client,
            TableName=self.table,
            IndexName=GSI2,
            KeyConditionExpression="GSI2PK = :p",
            ExpressionAttributeValues={":p": s(TENANTS_PARTITION)},
        )
        return [Tenant.model_validate_json(item["data"]["S"]) for item in items]

    # keys --------------------------------------------------------------------
    def _put_key(self, key: ApiKey) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "PK": s(f"KEY#{key.key_hash}"),
                "SK": s("KEY"),
                "GSI1PK": s(f"{tenant_pk(key.tenant_id)}#KEYS"),
                "GSI1SK": s(f"{key.created_at.isoformat()}#{key.key_hash}"),
                "data": s(key.model_dump_json()),
            },
        )

    def _get_key(self, key_hash: str) -> ApiKey | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"PK": s(f"KEY#{key_hash}"), "SK": s("KEY")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return ApiKey.model_validate_json(item["data"]["S"]) if item else None

    def _list_keys(self, tenant_id: str) -> list[ApiKey]:
        items = query_items(
            self.client,
            TableName=self.table,
            IndexName=GSI1,
            KeyConditionExpression="GSI1PK = :p",
            ExpressionAttributeValues={":p": s(f"{tenant_pk(tenant_id)}#KEYS")},
        )
        return [ApiKey.model_validate_json(item["data"]["S"]) for item in items]
