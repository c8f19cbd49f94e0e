"""The in-process skill invoker: results, timeouts, skill errors, unknown skills, and
fire-and-forget calls whose failures are logged — with plain-Python skills from its registry."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from core.errors import SkillError, SkillTimeout
from core.ports import SkillContext
from core.settings import Settings
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker, SkillFn
from tests.memory_stores import MemoryBlobStore


def echo(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    return {"echo": event["text"].upper(), "tenant": event["tenant_id"]}


def uses_context(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    data = ctx.blobs.get(tenant_id=event["tenant_id"], key="models/intent.json")
    return {"model": data.decode(), "threshold": ctx.settings.intent_timeout_s}


def broken(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    raise RuntimeError("model file is corrupt")


def not_a_dict(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    return ["oops"]  # type: ignore[return-value]


@pytest.fixture
def ctx() -> SkillContext:
    return SkillContext(blobs=MemoryBlobStore(), settings=Settings(intent_timeout_s=3.0))


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so no blocked skill outlives its test."""
    event = threading.Event()
    yield event
    event.set()


def _invoker(ctx: SkillContext, workers: int = 2, **skills: SkillFn) -> InProcessSkillInvoker:
    registry: dict[str, SkillFn] = {"echo": echo, "broken": broken, **skills}
    return InProcessSkillInvoker(ctx, workers=workers, registry=registry)


def test_invoke_returns_the_skills_result(ctx: SkillContext) -> None:
    invoker = _invoker(ctx)
    try:
        result = asyncio.run(invoker.invoke("echo", {"text": "hi", "tenant_id": "acme"}, timeout=5))
    finally:
        invoker.close()

    assert result == {"echo": "HI", "tenant": "acme"}


def test_skills_get_the_context(ctx: SkillContext) -> None:
    ctx.blobs.put(tenant_id="acme", key="models/intent.json", data=b'{"v": 3}')
    invoker = _invoker(ctx, uses_context=uses_context)
    try:
        result = asyncio.run(invoker.invoke("uses_context", {"tenant_id": "acme"}, timeout=5))
    finally:
        invoker.close()

    assert result == {"model": '{"v": 3}', "threshold": 3.0}


def test_calls_run_concurrently_off_the_event_loop(ctx: SkillContext) -> None:
    both_running = threading.Barrier(2, timeout=5)

    def meet(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        both_running.wait()  # only passes if the two calls run at the same time
        return {"n": event["n"]}

    invoker = _invoker(ctx, meet=meet)

    async def main() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                invoker.invoke("meet", {"n": 1}, timeout=10),
                invoker.invoke("meet", {"n": 2}, timeout=10),
            )
        )

    try:
        results = asyncio.run(main())
    finally:
        invoker.close()

    assert results == [{"n": 1}, {"n": 2}]


def test_a_slow_skill_times_out(ctx: SkillContext, release: threading.Event) -> None:
    def stuck(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        release.wait(10)
        return {}

    invoker = _invoker(ctx, stuck=stuck)
    try:
        with pytest.raises(SkillTimeout) as caught:
            asyncio.run(invoker.invoke("stuck", {}, timeout=0.05))
    finally:
        release.set()
        invoker.close()

    assert caught.value.skill == "stuck"
    assert caught.value.code == "skill_timeout"


def test_a_skill_that_raises_its_own_timeout_error_is_an_error_not_a_timeout(
    ctx: SkillContext,
) -> None:
    def raises_timeout(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        raise TimeoutError("upstream model server timed out")

    invoker = _invoker(ctx, raises_timeout=raises_timeout)
    try:
        with pytest.raises(SkillError) as caught:
            asyncio.run(invoker.invoke("raises_timeout", {}, timeout=5))
    finally:
        invoker.close()

    assert not isinstance(caught.value, SkillTimeout)
    assert "upstream model server timed out" in caught.value.message


def test_a_failing_skill_raises_skill_error(ctx: SkillContext) -> None:
    invoker = _invoker(ctx)
    try:
        with pytest.raises(SkillError) as caught:
            asyncio.run(invoker.invoke("broken", {}, timeout=5))
    finally:
        invoker.close()

    assert caught.value.skill == "broken"
    assert caught.value.message == "broken: model file is corrupt"


def test_a_skill_that_returns_no_dict_is_an_error(ctx: SkillContext) -> None:
    invoker = _invoker(ctx, not_a_dict=not_a_dict)
    try:
        with pytest.raises(SkillError):
            asyncio.run(invoker.invoke("not_a_dict", {}, timeout=5))
    finally:
        invoker.close()


@pytest.mark.parametrize("name", ["no_such_skill", "../etc", "Intent", ""])
def test_unknown_skills_are_errors(ctx: SkillContext, name: str) -> None:
    invoker = _invoker(ctx)
    try:
        with pytest.raises(SkillError) as caught:
            asyncio.run(invoker.invoke(name, {}, timeout=5))
    finally:
        invoker.close()

    assert "unknown skill" in caught.value.message


def test_registered_skills_take_precedence_over_imports(ctx: SkillContext) -> None:
    invoker = _invoker(ctx)
    invoker.register("intent", lambda event, ctx: {"intent": "fake"})
    try:
        result = asyncio.run(invoker.invoke("intent", {"text": "x"}, timeout=5))
    finally:
        invoker.close()

    assert result == {"intent": "fake"}


def test_the_event_is_a_copy(ctx: SkillContext) -> None:
    def mutate(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        event["text"] = "changed"
        return {}

    invoker = _invoker(ctx, mutate=mutate)
    event = {"text": "original"}
    try:
        asyncio.run(invoker.invoke("mutate", event, timeout=5))
    finally:
        invoker.close()

    assert event == {"text": "original"}


def test_invoke_async_returns_before_the_skill_finishes(
    ctx: SkillContext, release: threading.Event
) -> None:
    done: list[str] = []

    def job(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
        release.wait(10)
        done.append(event["job_id"])
        return {}

    invoker = _invoker(ctx, job=job)
    try:
        asyncio.run(invoker.invoke_async("job", {"job_id": "j1"}))
        assert done == []  # still blocked: the call did not wait for it
        release.set()
        assert invoker.wait_idle(timeout=10)
    finally:
        invoker.close()

    assert done == ["j1"]


def test_failures_of_async_calls_are_logged(
    ctx: SkillContext, caplog: pytest.LogCaptureFixture
) -> None:
    invoker = _invoker(ctx)
    with caplog.at_level(logging.ERROR, logger="infra.local.inprocess_skill_invoker"):
        try:
            asyncio.run(invoker.invoke_async("broken", {"tenant_id": "acme"}))
            asyncio.run(invoker.invoke_async("no_such_skill", {}))
            assert invoker.wait_idle(timeout=10)
        finally:
            invoker.close()

    messages = [r.getMessage() for r in caplog.records]
    assert any("model file is corrupt" in m for m in messages)
    assert any("unknown skill" in m for m in messages)


def test_a_closed_invoker_refuses_calls(ctx: SkillContext) -> None:
    invoker = _invoker(ctx)
    invoker.close()

    with pytest.raises(SkillError):
        asyncio.run(invoker.invoke("echo", {"text": "x", "tenant_id": "t"}, timeout=5))
    with pytest.raises(SkillError):
        asyncio.run(invoker.invoke_async("echo", {"text": "x", "tenant_id": "t"}))
