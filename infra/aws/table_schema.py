"""The one DynamoDB single-table definition shared by the deploy and the tests.

`table_schema.json` holds the table's key schema, attribute definitions, GSIs, billing mode and
TTL setting in CloudFormation's property shape. `serverless.yml` reads the same file
(`${file(infra/aws/table_schema.json):...}`) and the tests create their local table from it with
`create_table()`, so the table the tests run against and the deployed one cannot drift.

Item layout (DESIGN.md, "Ports and their two backends"), as `PK | SK | index keys`:

- tenant: `TENANT#<t> | PROFILE | GSI2 TENANTS / <t>`
- API key: `KEY#<sha256> | KEY | GSI1 TENANT#<t>#KEYS / <created>#<hash>`
- message: `TENANT#<t>#SESSION#<s> | MSG#<ulid>` (one item per message)
- session state: `TENANT#<t>#SESSION#<s> | STATE | GSI1 TENANT#<t> / <last activity>#<s>`, and
  while a handoff is waiting or active `GSI2 HANDOFF#<t> / <last activity>#<s>`
- idempotency: `TENANT#<t>#IDEMP#<key> | IDEMP`
- job: `TENANT#<t>#JOB#<id> | JOB`, and while queued or running
  `GSI2 JOBS#UNFINISHED / <created>#<t>#<id>`
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("table_schema.json")
GSI1 = "GSI1"
GSI2 = "GSI2"
TTL_ATTRIBUTE = "expires_at"


@cache
def table_schema() -> dict[str, Any]:
    """The table definition (CloudFormation property names, which are also boto3's)."""
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return data


def create_table(client: Any, table_name: str) -> None:
    """Create the table (and enable TTL) with a low-level DynamoDB client; waits until active."""
    schema = table_schema()
    client.create_table(
        TableName=table_name,
        BillingMode=schema["BillingMode"],
        AttributeDefinitions=schema["AttributeDefinitions"],
        KeySchema=schema["KeySchema"],
        GlobalSecondaryIndexes=schema["GlobalSecondaryIndexes"],
    )
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    ttl = schema["TimeToLiveSpecification"]
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
    )


def create_bucket(client: Any, bucket_name: str, *, region: str) -> None:
    """Create a private, encrypted bucket like the deployed one (a local endpoint's stand-in)."""
    kwargs: dict[str, Any] = {"Bucket": bucket_name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    client.create_bucket(**kwargs)
    client.put_public_access_block(
        Bucket=bucket_name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    client.put_bucket_encryption(
        Bucket=bucket_name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
