"""A local AWS for the AWS integration tests: moto's server (DynamoDB, S3) and the local Lambda
endpoint (`devtools.local_lambda_server`), both on 127.0.0.1, with fake credentials.

The `services` fixture here replaces the parent folder's: it is `build_services()` with
`LAMBDESK_BACKEND=aws` (DynamoDB stores, S3 blobs, the Lambda invoker over HTTP, the Powertools
log) on a fresh table and bucket, so the parent's `live_api` fixture serves the same API in aws
mode. The skills answering its Lambda calls are the fast fakes of `tests/fakes.py`, registered as
functions in the local Lambda endpoint and reading the test's S3 bucket.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.bootstrap import Services, build_blob_store, build_services
from core.ports import SkillContext
from core.settings import Settings, get_settings
from devtools.local_lambda_server import LocalLambdaServer
from infra.aws.lambda_skill_invoker import LambdaSkillInvoker
from tests.fakes import fake_registry
from tests.local_aws import PREFIX, LocalAws


def as_lambda(
    fn: Callable[[dict[str, Any], SkillContext], dict[str, Any]], ctx: SkillContext
) -> Callable[[Any, Any], Any]:
    """A `skill.run`-style function as a Lambda handler over a fixed skill context."""

    def handler(event: Any, context: Any) -> Any:
        return fn(event, ctx)

    return handler


ENTRYPOINTS = ("intent", "retrieval", "asr", "tts", "vision", "video", "jobs", "train")


def forget_entrypoints(local_aws: LocalAws) -> None:
    """Drop the Lambda entry modules (they build their services at import, from the environment
    of that moment) and the local endpoint's resolved handlers, and the settings cache."""
    from core.settings import get_settings
    from infra.aws.clients import clear_client_cache

    for module in [
        "api.lambda_handler",
        "workers.lambda_handler",
        "training.handler",
        *(f"skills.{name}.handler" for name in ENTRYPOINTS),
    ]:
        sys.modules.pop(module, None)
    for name in ENTRYPOINTS:
        local_aws.lambdas.unregister(name)
    get_settings.cache_clear()
    clear_client_cache()


@pytest.fixture
def aws_settings(local_aws: LocalAws, tmp_path: Path) -> Settings:
    return local_aws.settings(tmp_path / "data")


class RegisteringLambdaInvoker(LambdaSkillInvoker):
    """The real Lambda invoker plus the in-process invoker's `register(name, fn)` test hook: the
    function is deployed to the local Lambda endpoint, and calls still go over the wire."""

    def __init__(
        self, *, client: Any, function_prefix: str, lambdas: LocalLambdaServer, ctx: SkillContext
    ) -> None:
        super().__init__(client=client, function_prefix=function_prefix)
        self.lambdas = lambdas
        self.ctx = ctx
        self.registered: set[str] = set()

    def register(
        self, name: str, fn: Callable[[dict[str, Any], SkillContext], dict[str, Any]]
    ) -> None:
        self.lambdas.register(name, as_lambda(fn, self.ctx))
        self.registered.add(name)


@pytest.fixture
def services(local_aws: LocalAws, aws_settings: Settings) -> Iterator[Services]:
    from infra.aws.clients import aws_clients

    invoker = RegisteringLambdaInvoker(
        client=aws_clients(aws_settings).lambda_,
        function_prefix=PREFIX,
        lambdas=local_aws.lambdas,
        ctx=SkillContext(blobs=build_blob_store(aws_settings), settings=aws_settings),
    )
    for name, fn in fake_registry().items():
        invoker.register(name, fn)
    built = build_services(aws_settings, skills=invoker)
    yield built
    local_aws.lambdas.drain()
    for name in invoker.registered:
        local_aws.lambdas.unregister(name)
    built.close()


@pytest.fixture
def aws_env(
    local_aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """LAMBDESK_* as serverless.yml sets them, for a fresh table and bucket; every per-process
    cache (settings, the API handler, the skill handlers' contexts) is reset around the test."""
    settings = local_aws.settings(tmp_path / "data")
    env = {
        "LAMBDESK_BACKEND": "aws",
        "LAMBDESK_DATA_DIR": str(tmp_path / "data"),
        "LAMBDESK_AWS_REGION": settings.aws_region,
        "LAMBDESK_AWS_ENDPOINT_URL": str(settings.aws_endpoint_url),
        "LAMBDESK_TABLE_NAME": str(settings.table_name),
        "LAMBDESK_BUCKET_NAME": str(settings.bucket_name),
        "LAMBDESK_FUNCTION_PREFIX": str(settings.function_prefix),
        "LAMBDESK_TOKEN_SECRET": str(settings.token_secret),
        "LAMBDESK_WARMUP": "false",
        "HF_HUB_OFFLINE": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    forget_entrypoints(local_aws)  # Lambda entries build at import: import them afresh
    yield get_settings()
    forget_entrypoints(local_aws)
