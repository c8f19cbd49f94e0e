"""A long conversation on DynamoDB: 5,000 messages in one session (one item each) read back
complete and in order through cursor paging, and erased by `delete_session`."""

from __future__ import annotations

from pathlib import Path

from core.models import Message, Role
from infra.aws.clients import aws_clients
from infra.aws.dynamodb_history_store import DynamoDBHistoryStore
from tests.integration.aws.conftest import LocalAws

COUNT = 5000


def test_five_thousand_messages_page_back_in_order(local_aws: LocalAws, tmp_path: Path) -> None:
    settings = local_aws.settings(tmp_path)
    assert settings.table_name is not None
    client = aws_clients(settings).dynamodb
    store = DynamoDBHistoryStore(table_name=settings.table_name, client=client)
    for start in range(0, COUNT, 500):
        store.append_messages(
            tenant_id="acme",
            session_id="long",
            messages=[
                Message(
                    tenant_id="acme",
                    session_id="long",
                    role=Role.USER if i % 2 == 0 else Role.BOT,
                    text=f"message {i} " + "x" * 200,
                )
                for i in range(start, start + 500)
            ],
        )

    texts: list[str] = []
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = store.list_messages(tenant_id="acme", session_id="long", limit=500, cursor=cursor)
        texts.extend(m.text.split(" ")[1] for m in page.items)
        ids.extend(m.message_id for m in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break

    assert texts == [str(i) for i in range(COUNT)]
    assert ids == sorted(ids) and len(set(ids)) == COUNT
    assert pages == COUNT // 500
    stored = 0
    pager = client.get_paginator("query").paginate(
        TableName=settings.table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :m)",
        ExpressionAttributeValues={":pk": {"S": "TENANT#acme#SESSION#long"}, ":m": {"S": "MSG#"}},
        Select="COUNT",
    )
    for page_of_counts in pager:
        stored += page_of_counts["Count"]
    assert stored == COUNT  # one item per message, never the whole conversation in one

    assert store.delete_session(tenant_id="acme", session_id="long") is True
    empty = store.list_messages(tenant_id="acme", session_id="long")
    assert empty.items == [] and empty.next_cursor is None
