"""HistoryStore on DynamoDB: one item per message, session state, idempotency records.

Messages `PK=TENANT#<t>#SESSION#<s> SK=MSG#<ulid>` (never a whole conversation in one item: items
stop at 400 KB); session state `SK=STATE` in the same partition, written with a condition on
`version`; idempotency `PK=TENANT#<t>#IDEMP#<key> SK=IDEMP`. Sessions are listed newest first
through GSI1 (`TENANT#<t>` / `<last activity>#<s>`), the handoff queue through the sparse GSI2
partition `HANDOFF#<t>`. `expires_at` is the numeric TTL attribute; the port filters expired items
on read because TTL deletes late.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import IdempotencyLost, VersionConflict
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
from infra.aws.dynamodb_items import (
    batch_delete,
    batch_write,
    decode_cursor,
    encode_cursor,
    epoch,
    is_condition_failure,
    n,
    query_items,
    s,
    session_pk,
    sortable_time,
    tenant_pk,
    ttl_attr,
)
from infra.aws.table_schema import GSI1, GSI2


def _failed_action(exc: BaseException) -> int | None:
    """The index of the action whose condition cancelled a transaction, if any."""
    reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
    for index, reason in enumerate(reasons):
        if reason.get("Code") == "ConditionalCheckFailed":
            return index
    return None


# One TransactWriteItems call holds at most 100 actions: a turn (2-3 messages) is one
# transaction; a bulk import above that is written with BatchWriteItem.
TRANSACTION_LIMIT = 100
QUEUED_HANDOFFS = (HandoffStatus.WAITING, HandoffStatus.ACTIVE)


class DynamoDBHistoryStore(HistoryStore):
    def __init__(self, *, table_name: str, client: Any, ttl_days: int = 90) -> None:
        super().__init__(ttl_days=ttl_days)
        self.table = table_name
        self.client = client

    # messages ---------------------------------------------------------------
    def _put_messages(self, tenant_id: str, session_id: str, messages: list[Message]) -> None:
        pk = session_pk(tenant_id, session_id)
        items = [self._message_item(pk, m) for m in messages]
        if len(items) <= TRANSACTION_LIMIT:  # a turn: all or nothing
            self.client.transact_write_items(
                TransactItems=[{"Put": {"TableName": self.table, "Item": i}} for i in items]
            )
            return
        # A bulk import cannot be one transaction anyway: batches cost half the capacity.
        batch_write(self.client, self.table, [{"PutRequest": {"Item": i}} for i in items])

    def _get_messages(
        self, tenant_id: str, session_id: str, *, limit: int, after: str | None
    ) -> list[Message]:
        values: dict[str, Any] = {":pk": s(session_pk(tenant_id, session_id))}
        if after:
            # The smallest string above `MSG#<after>` is `MSG#<after>\0`; `MSG$` ends the range.
            condition = "PK = :pk AND SK BETWEEN :lo AND :hi"
            values[":lo"] = s(f"MSG#{after}\x00")
            values[":hi"] = s("MSG$")
        else:
            condition = "PK = :pk AND begins_with(SK, :msg)"
            values[":msg"] = s("MSG#")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            "Limit": limit,
        }
        out: list[Message] = []
        while len(out) < limit:
            response = self.client.query(**kwargs)
            out.extend(Message.model_validate_json(i["data"]["S"]) for i in response["Items"])
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
            kwargs["Limit"] = limit - len(out)
        return out[:limit]

    def _get_message(self, tenant_id: str, session_id: str, message_id: str) -> Message | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"PK": s(session_pk(tenant_id, session_id)), "SK": s(f"MSG#{message_id}")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Message.model_validate_json(item["data"]["S"]) if item else None

    # feedback ---------------------------------------------------------------
    def _swap_feedback(self, feedback: Feedback) -> Feedback | None:
        item = ttl_attr(
            {
                "PK": s(session_pk(feedback.tenant_id, feedback.session_id)),
                "SK": s(f"FEEDBACK#{feedback.message_id}"),
                "data": s(feedback.model_dump_json()),
            },
            feedback.expires_at,
        )
        response = self.client.put_item(TableName=self.table, Item=item, ReturnValues="ALL_OLD")
        old = response.get("Attributes")
        return Feedback.model_validate_json(old["data"]["S"]) if old else None

    def _get_feedback(self, tenant_id: str, session_id: str, message_id: str) -> Feedback | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"PK": s(session_pk(tenant_id, session_id)), "SK": s(f"FEEDBACK#{message_id}")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Feedback.model_validate_json(item["data"]["S"]) if item else None

    # session state ----------------------------------------------------------
    def _get_state(self, tenant_id: str, session_id: str) -> SessionState | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"PK": s(session_pk(tenant_id, session_id)), "SK": s("STATE")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return SessionState.model_validate_json(item["data"]["S"]) if item else None

    def _commit(
        self,
        state: SessionState,
        expected_version: int | None,
        messages: list[Message],
        completion: IdempotencyCompletion | None,
    ) -> None:
        activity = f"{sortable_time(state.last_activity)}#{state.session_id}"
        pk = session_pk(state.tenant_id, state.session_id)
        item: dict[str, Any] = {
            "PK": s(pk),
            "SK": s("STATE"),
            "version": n(state.version),
            "GSI1PK": s(tenant_pk(state.tenant_id)),
            "GSI1SK": s(activity),
            "data": s(state.model_dump_json()),
        }
        if state.handoff in QUEUED_HANDOFFS:
            item["GSI2PK"] = s(f"HANDOFF#{state.tenant_id}")
            item["GSI2SK"] = s(activity)
        ttl_attr(item, state.expires_at)
        if expected_version is None:
            # A state whose TTL passed but that DynamoDB has not deleted yet counts as absent.
            condition = "attribute_not_exists(PK) OR expires_at < :now"
            values = {":now": n(epoch(utcnow()) or 0)}
        else:
            condition = "version = :v"
            values = {":v": n(expected_version)}
        if len(messages) + 2 > TRANSACTION_LIMIT:
            raise ValueError(f"a commit holds at most {TRANSACTION_LIMIT - 1} messages")
        put_state = {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        try:
            if not messages and completion is None:
                self.client.put_item(**put_state)
            else:  # the state, the turn's messages, the idempotency answer: all or nothing
                actions: list[dict[str, Any]] = [{"Put": put_state}]
                actions.extend(
                    {"Put": {"TableName": self.table, "Item": self._message_item(pk, m)}}
                    for m in messages
                )
                if completion is not None:
                    actions.append({"Update": self._completion_update(completion)})
                self.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            if completion is not None and _failed_action(exc) == len(messages) + 1:
                raise IdempotencyLost("another request took this Idempotency-Key over") from exc
            if is_condition_failure(exc):
                raise VersionConflict(
                    f"session {state.session_id!r} changed (expected version {expected_version})"
                ) from exc
            raise

    @staticmethod
    def _message_item(pk: str, message: Message) -> dict[str, Any]:
        return ttl_attr(
            {
                "PK": s(pk),
                "SK": s(f"MSG#{message.message_id}"),
                "data": s(message.model_dump_json()),
            },
            message.expires_at,
        )

    def _delete_session(self, tenant_id: str, session_id: str) -> bool:
        keys = [
            {"PK": item["PK"], "SK": item["SK"]}
            for item in query_items(
                self.client,
                TableName=self.table,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": s(session_pk(tenant_id, session_id))},
                ProjectionExpression="PK, SK",
                ConsistentRead=True,
            )
        ]
        batch_delete(self.client, self.table, keys)
        return bool(keys)

    def _list_sessions(
        self, tenant_id: str, *, limit: int, cursor: str | None, handoff_only: bool
    ) -> SessionPage:
        index, prefix = (GSI2, "GSI2") if handoff_only else (GSI1, "GSI1")
        partition = f"HANDOFF#{tenant_id}" if handoff_only else tenant_pk(tenant_id)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": f"{prefix}PK = :p",
            "ExpressionAttributeValues": {":p": s(partition)},
            "ScanIndexForward": False,
            "Limit": limit + 1,  # one more than asked: a next page exists only if it arrives
        }
        start = decode_cursor(cursor)
        if start:
            kwargs["ExclusiveStartKey"] = start
        items: list[dict[str, Any]] = []
        for item in query_items(self.client, **kwargs):
            items.append(item)
            if len(items) > limit:
                break
        next_cursor = None
        if len(items) > limit:
            last = items[limit - 1]
            next_cursor = encode_cursor(
                {k: last[k] for k in ("PK", "SK", f"{prefix}PK", f"{prefix}SK")}
            )
        states = [SessionState.model_validate_json(i["data"]["S"]) for i in items[:limit]]
        return SessionPage(items=states, next_cursor=next_cursor)

    # idempotency ------------------------------------------------------------
    @staticmethod
    def _idempotency_key(tenant_id: str, key: str) -> dict[str, Any]:
        return {"PK": s(f"{tenant_pk(tenant_id)}#IDEMP#{key}"), "SK": s("IDEMP")}

    def _claim_idempotency(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        key = self._idempotency_key(record.tenant_id, record.key)
        item = ttl_attr(
            {
                **key,
                "data": s(record.model_dump_json()),
                "owner": s(record.owner),
                "lease_until": n(epoch(record.lease_until) or 0),
            },
            record.expires_at,
        )
        for _ in range(5):  # the existing record may expire or be released between two calls
            try:
                # New, expired, or in progress with its owner's lease run out: ours now.
                self.client.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(PK) OR expires_at < :now OR "
                        "(attribute_not_exists(#r) AND "
                        "(attribute_not_exists(lease_until) OR lease_until < :now))"
                    ),
                    ExpressionAttributeNames={"#r": "response"},
                    ExpressionAttributeValues={":now": n(epoch(utcnow()) or 0)},
                )
                return None
            except Exception as exc:
                if not is_condition_failure(exc):
                    raise
            existing = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            if "Item" in existing:
                stored = existing["Item"]
                found = IdempotencyRecord.model_validate_json(stored["data"]["S"])
                if "response" in stored:
                    found.response = json.loads(stored["response"]["S"])
                return found
        raise VersionConflict(f"idempotency key {record.key!r} is contended")

    def _completion_update(self, completion: IdempotencyCompletion) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": self._idempotency_key(completion.tenant_id, completion.key),
            "UpdateExpression": "SET #r = :r",
            "ConditionExpression": "attribute_exists(PK) AND #o = :o AND attribute_not_exists(#r)",
            "ExpressionAttributeNames": {"#r": "response", "#o": "owner"},
            "ExpressionAttributeValues": {
                ":r": s(json.dumps(completion.response)),
                ":o": s(completion.owner),
            },
        }

    def _complete_idempotency(
        self, tenant_id: str, key: str, response: dict[str, Any], owner: str
    ) -> None:
        completion = IdempotencyCompletion(
            tenant_id=tenant_id, key=key, owner=owner, response=response
        )
        try:
            self.client.update_item(**self._completion_update(completion))
        except Exception as exc:
            if not is_condition_failure(exc):  # released or taken over: nothing to complete
                raise

    def _release_idempotency(self, tenant_id: str, key: str, owner: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._idempotency_key(tenant_id, key),
                ConditionExpression="#o = :o AND attribute_not_exists(#r)",
                ExpressionAttributeNames={"#r": "response", "#o": "owner"},
                ExpressionAttributeValues={":o": s(owner)},
            )
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
