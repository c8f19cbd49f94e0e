"""Small helpers the DynamoDB adapters share: key builders, epoch TTL values, opaque cursors,
error classification and paged queries over a low-level client."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from core.errors import BadRequest

CONDITION_FAILED = "ConditionalCheckFailedException"


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def session_pk(tenant_id: str, session_id: str) -> str:
    return f"TENANT#{tenant_id}#SESSION#{session_id}"


def epoch(value: datetime | None) -> int | None:
    """A datetime as DynamoDB TTL wants it: whole seconds since the epoch."""
    return None if value is None else int(value.timestamp())


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float) -> dict[str, str]:
    return {"N": str(value)}


def json_attr(model_json: str) -> dict[str, str]:
    return {"S": model_json}


def ttl_attr(item: dict[str, Any], expires_at: datetime | None) -> dict[str, Any]:
    """Add the numeric `expires_at` TTL attribute when the record expires."""
    value = epoch(expires_at)
    if value is not None:
        item["expires_at"] = n(value)
    return item


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore `ClientError` (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def is_condition_failure(exc: BaseException) -> bool:
    if error_code(exc) == CONDITION_FAILED:
        return True
    if error_code(exc) == "TransactionCanceledException":
        reasons = getattr(exc, "response", {}).get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The `ExclusiveStartKey` inside an opaque cursor; a malformed cursor is a 400."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if not isinstance(key, dict):
        raise InvalidCursor("invalid cursor")
    return key


class InvalidCursor(BadRequest):
    code = "invalid_cursor"


def query_items(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a query matches, following `LastEvaluatedKey` across 1 MB pages."""
    while True:
        response = client.query(**kwargs)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        kwargs["ExclusiveStartKey"] = last


def sortable_time(value: datetime) -> str:
    """A fixed-width UTC timestamp whose string order is time order (GSI sort keys)."""
    from datetime import UTC

    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def batch_delete(client: Any, table: str, keys: list[dict[str, Any]]) -> None:
    """Delete keys 25 at a time, retrying what DynamoDB leaves unprocessed."""
    batch_write(client, table, [{"DeleteRequest": {"Key": key}} for key in keys])


def batch_write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    """`BatchWriteItem` 25 requests at a time, retrying what DynamoDB leaves unprocessed."""
    import time

    for start in range(0, len(requests), 25):
        pending = requests[start : start + 25]
        delay = 0.05
        while pending:
            response = client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
