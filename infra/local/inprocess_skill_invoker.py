"""In-process backend of `SkillInvoker`: skills run in a thread pool of this process.

`invoke(name, event, timeout=)` imports `skills.<name>.skill` on first use (cached) and runs its
`run(event, ctx)` in the pool, so model loading and inference never block the event loop. A call
past its timeout raises `SkillTimeout` (the worker thread cannot be interrupted: it finishes in
the background and its result is dropped); any exception from the skill becomes `SkillError`.
`invoke_async` submits and returns at once; failures of such calls are logged, never lost.

A `registry` of extra skill callables (tests, plugins) takes precedence over the imports;
`modules` names the module of a function that is not `skills.<name>.skill` (the training
workflow's steps, `train` → `training.workflow_steps`), imported on first use as well. The
skills' context carries this invoker (`ctx.skills`) unless it was given another, so a skill that
calls other skills (video moderation → vision) reaches them the same way. Such a call waits for
a pool thread while holding one: keep `workers` above the number of such calls running at once.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import replace
from typing import Any

from core.errors import SkillError, SkillTimeout
from core.ports import SkillContext, SkillInvoker

logger = logging.getLogger(__name__)

SkillFn = Callable[[dict[str, Any], SkillContext], dict[str, Any]]

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class InProcessSkillInvoker(SkillInvoker):
    """Runs `skills.<name>.skill.run(event, ctx)` in a `ThreadPoolExecutor` of `workers` threads."""

    def __init__(
        self,
        ctx: SkillContext,
        workers: int = 4,
        *,
        registry: Mapping[str, SkillFn] | None = None,
        modules: Mapping[str, str] | None = None,
    ) -> None:
        self._modules = dict(modules or {})
        # a skill that calls other skills (video → vision) calls them through this invoker
        self.ctx = ctx if ctx.skills is not None else replace(ctx, skills=self)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="skill")
        self._registry: dict[str, SkillFn] = dict(registry or {})
        self._loaded: dict[str, SkillFn] = {}
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()

    # registry ---------------------------------------------------------------
    def register(self, name: str, fn: SkillFn) -> None:
        """Serve `name` with `fn` instead of importing `skills.<name>.skill`."""
        with self._lock:
            self._registry[name] = fn

    def resolve(self, name: str) -> SkillFn:
        """The callable behind `name` (imported once); `SkillError` if there is none."""
        with self._lock:
            fn = self._registry.get(name) or self._loaded.get(name)
        if fn is not None:
            return fn
        if not _NAME_RE.match(name):
            raise SkillError(name, "unknown skill")
        # Python's import system serialises concurrent imports of one module; no lock of ours is
        # held here, so a slow import of one skill does not hold up the others.
        module_name = self._modules.get(name, f"skills.{name}.skill")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in ("skills", f"skills.{name}", module_name):
                raise SkillError(name, "unknown skill") from None
            raise SkillError(name, f"cannot load: {_describe(exc)}") from exc
        except Exception as exc:
            raise SkillError(name, f"cannot load: {_describe(exc)}") from exc
        run = getattr(module, "run", None)
        if not callable(run):
            raise SkillError(name, f"{module_name} has no run(event, ctx)")
        with self._lock:
            self._loaded[name] = run
        return run

    # calls ------------------------------------------------------------------
    def _call(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        """Runs in a worker thread (the import too: loading a skill may be slow)."""
        fn = self.resolve(name)
        try:
            result = fn(event, self.ctx)
        except SkillError:
            raise
        except Exception as exc:
            raise SkillError(name, _describe(exc)) from exc
        if not isinstance(result, dict):
            raise SkillError(name, f"returned {type(result).__name__}, not a dict")
        return result

    async def invoke(
        self, name: str, event: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool, self._call, name, dict(event))
        except RuntimeError as exc:  # the pool is shut down
            raise SkillError(name, "invoker is closed") from exc
        try:
            done, _ = await asyncio.wait({future}, timeout=timeout)
        finally:
            if not future.done():
                future.cancel()  # drops it if it has not started; a running call finishes
        if not done:
            raise SkillTimeout(name, f"no result within {timeout:g} s")
        return future.result()

    async def invoke_async(self, name: str, event: Mapping[str, Any]) -> None:
        try:
            future = self._pool.submit(self._run_logged, name, dict(event))
        except RuntimeError as exc:
            raise SkillError(name, "invoker is closed") from exc
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _run_logged(self, name: str, event: dict[str, Any]) -> None:
        try:
            self._call(name, event)
        except Exception as exc:
            logger.error(
                "async skill call failed: %s",
                _describe(exc),
                exc_info=exc,
                extra={"skill": name, "tenant": event.get("tenant_id")},
            )

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the `invoke_async` calls submitted so far; True if all finished."""
        with self._lock:
            pending = set(self._pending)
        _, not_done = wait_futures(pending, timeout=timeout)
        return not not_done

    def close(self, *, wait: bool = True) -> None:
        """Stop accepting calls; with `wait`, let the running and queued ones finish first."""
        self._pool.shutdown(wait=wait)
