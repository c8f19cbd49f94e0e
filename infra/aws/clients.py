"""boto3 clients for the AWS backend, created once per process.

`aws_clients(settings)` returns the same `AwsClients` for the same region and endpoint, so a
Lambda cold start (or a local process) builds each low-level client exactly once.
`settings.aws_endpoint_url` points every client at a local AWS endpoint (moto's server) in tests
and `make run-aws-local`. The Lambda client loads a model trimmed to `Invoke`
(`infra.aws.service_models`), which makes it cheap to create. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.settings import Settings

# A synchronous skill call can last up to the longest skill timeout (index builds); the invoker
# enforces the per-call timeout itself, the socket timeout only frees the worker thread.
LAMBDA_READ_TIMEOUT_S = 330.0


@dataclass(frozen=True)
class AwsClients:
    """The low-level clients every AWS adapter takes (typed loosely: stubs are dev-only)."""

    dynamodb: Any
    s3: Any
    lambda_: Any
    logs: Any = None


def aws_clients(settings: Settings) -> AwsClients:
    """The process's clients for this region and endpoint (cached).

    Lambda honours the SDK's standard `AWS_ENDPOINT_URL_LAMBDA` over `settings.aws_endpoint_url`:
    locally, functions run on their own endpoint (`devtools.local_lambda_server`) because moto
    cannot execute them without docker.
    """
    lambda_endpoint = os.environ.get("AWS_ENDPOINT_URL_LAMBDA") or settings.aws_endpoint_url
    return _clients(
        settings.aws_region, settings.aws_endpoint_url, lambda_endpoint, settings.skill_workers
    )


@lru_cache(maxsize=8)
def _clients(
    region: str, endpoint_url: str | None, lambda_endpoint_url: str | None, workers: int
) -> AwsClients:
    import boto3
    import botocore.session
    from botocore.config import Config

    from infra.aws.service_models import MODELS_DIR

    core = botocore.session.get_session()
    # The trimmed models (`infra.aws.service_models`) first, then any AWS_DATA_PATH.
    data_path = [str(MODELS_DIR), core.get_config_variable("data_path") or ""]
    core.set_config_variable("data_path", os.pathsep.join(p for p in data_path if p))
    session = boto3.session.Session(botocore_session=core, region_name=region)
    pool = max(10, workers * 4)
    data_config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        max_pool_connections=pool,
        connect_timeout=5,
        read_timeout=30,
    )
    # Skill calls are not retried here: a turn degrades instead, and jobs keep their own attempts.
    lambda_config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=pool,
        connect_timeout=5,
        read_timeout=LAMBDA_READ_TIMEOUT_S,
    )
    return AwsClients(
        dynamodb=session.client("dynamodb", endpoint_url=endpoint_url, config=data_config),
        s3=session.client("s3", endpoint_url=endpoint_url, config=data_config),
        lambda_=session.client("lambda", endpoint_url=lambda_endpoint_url, config=lambda_config),
        logs=None,
    )


def clear_client_cache() -> None:
    """Forget the cached clients (tests that switch endpoints)."""
    _clients.cache_clear()
