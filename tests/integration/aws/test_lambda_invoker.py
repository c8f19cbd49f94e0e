"""LambdaSkillInvoker over the real wire: boto3's Lambda client against the local Invoke endpoint
(both invocation types, a function error, throttling, a missing function, a timeout)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from core.errors import SkillError, SkillTimeout
from infra.aws.clients import aws_clients
from infra.aws.lambda_skill_invoker import LambdaSkillInvoker
from tests.integration.aws.conftest import PREFIX, LocalAws


@pytest.fixture
def invoker(local_aws: LocalAws, tmp_path: Path) -> LambdaSkillInvoker:
    settings = local_aws.settings(tmp_path)
    return LambdaSkillInvoker(client=aws_clients(settings).lambda_, function_prefix=PREFIX)


def _name() -> str:
    return f"s{uuid.uuid4().hex[:8]}"


def test_request_response_returns_the_handlers_json(
    local_aws: LocalAws, invoker: LambdaSkillInvoker
) -> None:
    name = _name()
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context.function_name)
        return {
            "echo": event["text"].upper(),
            "remaining_ms": context.get_remaining_time_in_millis(),
        }

    local_aws.lambdas.register(name, handler)

    result = asyncio.run(invoker.invoke(name, {"text": "héllo"}, timeout=5))

    assert result["echo"] == "HÉLLO"
    assert result["remaining_ms"] > 0
    assert seen == [f"{PREFIX}{name}"]


def test_event_invocation_is_accepted_and_runs_in_the_background(
    local_aws: LocalAws, invoker: LambdaSkillInvoker
) -> None:
    name = _name()
    done = threading.Event()
    received: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        received.append(event)
        done.set()

    local_aws.lambdas.register(name, handler)

    asyncio.run(invoker.invoke_async(name, {"job_id": "j1"}))

    assert done.wait(5)
    assert received == [{"job_id": "j1"}]


def test_a_raised_exception_becomes_a_skill_error(
    local_aws: LocalAws, invoker: LambdaSkillInvoker
) -> None:
    name = _name()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise ValueError("model file is corrupt")

    local_aws.lambdas.register(name, handler)

    with pytest.raises(SkillError) as caught:
        asyncio.run(invoker.invoke(name, {}, timeout=5))
    assert caught.value.skill == name
    assert "ValueError: model file is corrupt" in str(caught.value)
    assert not isinstance(caught.value, SkillTimeout)


def test_a_missing_function_is_a_skill_error(invoker: LambdaSkillInvoker) -> None:
    with pytest.raises(SkillError, match="ResourceNotFoundException"):
        asyncio.run(invoker.invoke("nosuchskill", {}, timeout=5))
    with pytest.raises(SkillError, match="ResourceNotFoundException"):
        asyncio.run(invoker.invoke_async("nosuchskill", {}))


def test_a_slow_function_times_out(local_aws: LocalAws, invoker: LambdaSkillInvoker) -> None:
    name = _name()
    release = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        release.wait(10)
        return {"late": True}

    local_aws.lambdas.register(name, handler)

    async def call() -> None:
        try:
            await invoker.invoke(name, {}, timeout=0.3)
        finally:
            release.set()  # let the abandoned worker thread finish before the loop closes

    with pytest.raises(SkillTimeout):
        asyncio.run(call())


def test_throttling_is_a_skill_error(local_aws: LocalAws, invoker: LambdaSkillInvoker) -> None:
    name = _name()
    entered, release = threading.Event(), threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        release.wait(10)
        return {"ok": True}

    local_aws.lambdas.register(name, handler, concurrency=1)

    async def two_calls() -> tuple[dict[str, Any], BaseException | None]:
        first = asyncio.create_task(invoker.invoke(name, {}, timeout=10))
        await asyncio.to_thread(entered.wait, 5)
        error: BaseException | None = None
        try:
            await invoker.invoke(name, {}, timeout=10)
        except SkillError as exc:
            error = exc
        release.set()
        return await first, error

    first, error = asyncio.run(two_calls())

    assert first == {"ok": True}
    assert isinstance(error, SkillError)
    assert "TooManyRequestsException" in str(error)


def test_a_non_object_result_is_a_skill_error(
    local_aws: LocalAws, invoker: LambdaSkillInvoker
) -> None:
    name = _name()
    local_aws.lambdas.register(name, lambda event, context: [1, 2, 3])

    with pytest.raises(SkillError, match="JSON object"):
        asyncio.run(invoker.invoke(name, {}, timeout=5))
