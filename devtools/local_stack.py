"""A local AWS for development and tests: moto's server (DynamoDB, S3) plus the local Lambda
endpoint, with the stage's table and bucket created from the shared schema.

Used by `make run-aws-local` (`scripts/aws_local.py`), the AWS test fixtures and
`bench/aws_local_turn.py`. moto is a development dependency; it is imported only here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from infra.aws.table_schema import create_bucket, create_table

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def use_fake_credentials(environ: Any = os.environ) -> None:
    """Fake credentials so boto3 signs requests for the local endpoint (never a real account)."""
    for key, value in FAKE_CREDENTIALS.items():
        environ[key] = value
    environ.pop("AWS_PROFILE", None)


@dataclass
class MotoServer:
    server: Any
    url: str

    def stop(self) -> None:
        self.server.stop()


def start_moto(host: str = "127.0.0.1", port: int = 0) -> MotoServer:
    """moto's threaded server on `host:port` (0: any free port); starts in milliseconds."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return MotoServer(server=server, url=f"http://{bound_host}:{bound_port}")


@lru_cache(maxsize=16)
def _client(service: Any, endpoint_url: str, region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region).client(service, endpoint_url=endpoint_url)


def provision(*, endpoint_url: str, table_name: str, bucket_name: str, region: str) -> None:
    """Create the stage's table and bucket on a local endpoint (idempotent)."""
    dynamodb = _client("dynamodb", endpoint_url, region)
    if table_name not in dynamodb.list_tables()["TableNames"]:
        create_table(dynamodb, table_name)
    s3 = _client("s3", endpoint_url, region)
    if bucket_name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        create_bucket(s3, bucket_name, region=region)
