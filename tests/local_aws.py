"""A local AWS for every test tier that needs one: moto's server (DynamoDB, S3; the root
conftest's `moto_server`) and the local Lambda Invoke endpoint (`devtools.local_lambda_server`),
both on 127.0.0.1 with fake credentials. `local_aws` is session-scoped; tests isolate themselves
with fresh tables, buckets and function names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from devtools.local_lambda_server import LocalLambdaServer

REGION = "us-east-1"
PREFIX = "lambdesk-test-"


@dataclass
class LocalAws:
    endpoint_url: str  # moto: DynamoDB, S3
    lambdas: LocalLambdaServer  # Lambda Invoke

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        """aws-mode settings over a fresh table and bucket on this endpoint."""
        from devtools.local_stack import provision

        suffix = uuid.uuid4().hex[:10]
        table, bucket = f"lambdesk-it-{suffix}", f"lambdesk-it-{suffix}"
        provision(
            endpoint_url=self.endpoint_url, table_name=table, bucket_name=bucket, region=REGION
        )
        values: dict[str, Any] = {
            "backend": "aws",
            "data_dir": data_dir,
            "aws_region": REGION,
            "aws_endpoint_url": self.endpoint_url,
            "table_name": table,
            "bucket_name": bucket,
            "function_prefix": PREFIX,
            "token_secret": "test-secret-" + suffix,
            "warmup": False,
            "log_stdout": False,
        }
        values.update(overrides)
        return Settings(**values)


@pytest.fixture(scope="session")
def local_aws(moto_server: str) -> Iterator[LocalAws]:
    from infra.aws.clients import clear_client_cache

    with pytest.MonkeyPatch.context() as patch:
        lambdas = LocalLambdaServer(function_prefix=PREFIX, region=REGION).start()
        patch.setenv("AWS_ENDPOINT_URL_LAMBDA", lambdas.url)
        clear_client_cache()
        try:
            yield LocalAws(endpoint_url=moto_server, lambdas=lambdas)
        finally:
            lambdas.stop()
            clear_client_cache()
