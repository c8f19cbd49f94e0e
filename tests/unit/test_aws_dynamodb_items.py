"""Pure helpers of the DynamoDB adapters: opaque cursors, TTL epochs, sortable times, and the
shared table schema (the one serverless.yml and the tests both read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import BadRequest
from infra.aws.dynamodb_items import decode_cursor, encode_cursor, epoch, sortable_time
from infra.aws.table_schema import GSI1, GSI2, TTL_ATTRIBUTE, table_schema


def test_a_cursor_round_trips_and_a_forged_one_is_a_bad_request() -> None:
    key = {"PK": {"S": "TENANT#acme"}, "SK": {"S": "STATE"}, "GSI1SK": {"S": "2026-01-01#s"}}
    cursor = encode_cursor(key)
    assert cursor is not None and "=" not in cursor
    assert decode_cursor(cursor) == key
    assert encode_cursor(None) is None and decode_cursor(None) is None
    with pytest.raises(BadRequest):
        decode_cursor("%%%not-base64")
    with pytest.raises(BadRequest):
        decode_cursor(encode_cursor({"a": 1})[:-3] + "!!!")  # type: ignore[index]


def test_sortable_times_order_like_the_instants_they_name() -> None:
    base = datetime(2026, 11, 25, 17, 0, 0, tzinfo=UTC)
    later = [base + timedelta(microseconds=n) for n in (0, 1, 999_999, 1_000_000)]
    texts = [sortable_time(t) for t in later]
    assert texts == sorted(texts) and len(set(texts)) == 4
    other_zone = base.astimezone(timezone(timedelta(hours=5)))
    assert sortable_time(other_zone) == sortable_time(base)
    assert epoch(base) == int(base.timestamp()) and epoch(None) is None
    assert epoch(base + timedelta(milliseconds=999)) == epoch(base)


def test_the_table_schema_has_the_designed_indexes_and_ttl() -> None:
    schema = table_schema()
    assert [k["AttributeName"] for k in schema["KeySchema"]] == ["PK", "SK"]
    indexes = {i["IndexName"]: i for i in schema["GlobalSecondaryIndexes"]}
    assert set(indexes) == {GSI1, GSI2}
    for name, index in indexes.items():
        assert [k["AttributeName"] for k in index["KeySchema"]] == [f"{name}PK", f"{name}SK"]
    assert schema["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert schema["BillingMode"] == "PAY_PER_REQUEST"
