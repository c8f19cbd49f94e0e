"""SkillInvoker contract: one behaviour suite over the in-process pool and the Lambda invoker (over
the real wire protocol, against the local Invoke endpoint): a typed call and its result, a skill
that fails, a skill past its timeout, a result of the wrong shape, and an asynchronous call."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.errors import SkillError, SkillTimeout
from core.ports import SkillContext, SkillInvoker
from core.skill_contracts import IntentEvent, IntentResult, SearchEvent, SearchResult

SkillFn = Callable[[dict[str, Any], SkillContext], dict[str, Any]]


@dataclass
class InvokerUnderTest:
    invoker: SkillInvoker
    deploy: Callable[[str, SkillFn], None]  # serve a skill name with a `run(event, ctx)` function
    seen: list[dict[str, Any]] = field(default_factory=list)


def _in_process(request: pytest.FixtureRequest) -> Iterator[InvokerUnderTest]:
    from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
    from tests.memory_stores import MemoryBlobStore

    invoker = InProcessSkillInvoker(SkillContext(blobs=MemoryBlobStore(), settings=None), workers=4)
    yield InvokerUnderTest(invoker=invoker, deploy=invoker.register)
    invoker.close(wait=False)


def _lambda(request: pytest.FixtureRequest) -> Iterator[InvokerUnderTest]:
    from infra.aws.clients import aws_clients
    from infra.aws.lambda_skill_invoker import LambdaSkillInvoker
    from tests.integration.aws.conftest import PREFIX, LocalAws
    from tests.memory_stores import MemoryBlobStore

    local_aws: LocalAws = request.getfixturevalue("local_aws")
    tmp_path: Path = request.getfixturevalue("tmp_path")
    client = aws_clients(local_aws.settings(tmp_path)).lambda_
    ctx = SkillContext(blobs=MemoryBlobStore(), settings=None)
    suffix = uuid.uuid4().hex[:6]
    names: list[str] = []

    class Invoker(LambdaSkillInvoker):
        """Function names get a per-test suffix so tests never share a deployed function."""

        def function_name(self, name: str) -> str:
            return super().function_name(f"{name}{suffix}")

    def deploy(name: str, fn: SkillFn) -> None:
        names.append(name + suffix)
        local_aws.lambdas.register(name + suffix, lambda event, context: fn(event, ctx))

    yield InvokerUnderTest(invoker=Invoker(client=client, function_prefix=PREFIX), deploy=deploy)
    local_aws.lambdas.drain()
    for name in names:
        local_aws.lambdas.unregister(name)


@pytest.fixture(params=["inprocess", "lambda"])
def under_test(request: pytest.FixtureRequest) -> Iterator[InvokerUnderTest]:
    factory = _in_process if request.param == "inprocess" else _lambda
    yield from factory(request)


def test_a_typed_call_sends_the_event_and_reads_the_result(under_test: InvokerUnderTest) -> None:
    def intent(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        under_test.seen.append(event)
        return {
            "intent": "card_arrival",
            "confidence": 0.9,
            "ranking": [{"intent": "card_arrival", "confidence": 0.9}],
            "model_version": "v1",
            "added_later": True,  # a newer skill may add fields: the caller ignores them
        }

    under_test.deploy("intent", intent)
    result = asyncio.run(
        under_test.invoker.call(
            "intent", IntentEvent(tenant_id="acme", text="héllo"), IntentResult, timeout=10
        )
    )
    assert isinstance(result, IntentResult)
    assert (result.intent, result.confidence, result.model_version) == ("card_arrival", 0.9, "v1")
    assert under_test.seen == [{"tenant_id": "acme", "text": "héllo"}]


def test_a_failing_skill_is_a_skill_error_naming_it(under_test: InvokerUnderTest) -> None:
    def broken(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        raise RuntimeError("the model is unavailable")

    under_test.deploy("intent", broken)
    with pytest.raises(SkillError, match="the model is unavailable") as caught:
        asyncio.run(
            under_test.invoker.call(
                "intent", IntentEvent(tenant_id="acme", text="x"), IntentResult, timeout=10
            )
        )
    assert caught.value.skill == "intent"
    assert not isinstance(caught.value, SkillTimeout)


def test_a_skill_past_its_timeout_is_a_skill_timeout(under_test: InvokerUnderTest) -> None:
    release = threading.Event()

    def slow(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        release.wait(5)
        return {"hits": []}

    under_test.deploy("retrieval", slow)
    try:
        with pytest.raises(SkillTimeout):
            asyncio.run(
                under_test.invoker.call(
                    "retrieval",
                    SearchEvent(tenant_id="acme", query="q"),
                    SearchResult,
                    timeout=0.3,
                )
            )
    finally:
        release.set()


def test_a_result_of_the_wrong_shape_is_a_skill_error(under_test: InvokerUnderTest) -> None:
    def wrong(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        return {"hits": "not a list"}

    under_test.deploy("retrieval", wrong)
    with pytest.raises(SkillError, match="unexpected result"):
        asyncio.run(
            under_test.invoker.call(
                "retrieval", SearchEvent(tenant_id="acme", query="q"), SearchResult, timeout=10
            )
        )


def test_an_async_call_returns_at_once_and_the_skill_runs(under_test: InvokerUnderTest) -> None:
    ran = threading.Event()
    release = threading.Event()

    def job(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        release.wait(5)
        under_test.seen.append(event)
        ran.set()
        return {"job_id": event["job_id"], "status": "succeeded"}

    from core.skill_contracts import JobEvent

    under_test.deploy("voice", job)
    asyncio.run(under_test.invoker.call_async("voice", JobEvent(tenant_id="acme", job_id="j_1")))
    assert not ran.is_set()  # handed over, not awaited: the skill is still blocked
    release.set()
    assert ran.wait(10)
    assert under_test.seen == [{"tenant_id": "acme", "job_id": "j_1"}]
