"""SkillInvoker on AWS Lambda: each skill is the function `<function_prefix><name>`.

`invoke` is a `RequestResponse` invoke run in a worker thread (boto3 is synchronous) under
`asyncio.wait_for`; the Lambda client's read timeout (`infra.aws.clients`) frees the thread later.
A `FunctionError` in the response, throttling and any other client error become `SkillError`;
running past `timeout` becomes `SkillTimeout`. `invoke_async` is an `Event` invoke (202).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from core.errors import SkillError, SkillTimeout
from core.ports import SkillInvoker
from infra.aws.dynamodb_items import error_code

_TIMEOUT_ERRORS = ("ReadTimeoutError", "ConnectTimeoutError")


class LambdaSkillInvoker(SkillInvoker):
    def __init__(self, *, client: Any, function_prefix: str) -> None:
        self.client = client
        self.function_prefix = function_prefix

    def function_name(self, name: str) -> str:
        return f"{self.function_prefix}{name}"

    async def invoke(
        self, name: str, event: Mapping[str, Any], *, timeout: float
    ) -> dict[str, Any]:
        payload = _encode(name, event)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._invoke_sync, name, payload), timeout=timeout
            )
        except TimeoutError as exc:
            raise SkillTimeout(name, f"no answer within {timeout:g} s") from exc

    async def invoke_async(self, name: str, event: Mapping[str, Any]) -> None:
        payload = _encode(name, event)
        response = await asyncio.to_thread(self._call, name, payload, "Event")
        if response.get("StatusCode") != 202:
            raise SkillError(name, f"asynchronous invoke answered {response.get('StatusCode')}")

    def _invoke_sync(self, name: str, payload: bytes) -> dict[str, Any]:
        response = self._call(name, payload, "RequestResponse")
        body = response["Payload"].read()
        try:
            result = json.loads(body) if body else None
        except ValueError as exc:
            raise SkillError(name, "the function returned a payload that is not JSON") from exc
        if response.get("FunctionError"):
            message = "function error"
            if isinstance(result, dict):
                kind = result.get("errorType", response["FunctionError"])
                message = f"{kind}: {result.get('errorMessage', '')}".rstrip(": ")
            raise SkillError(name, message)
        if not isinstance(result, dict):
            raise SkillError(name, "the function did not return a JSON object")
        return result

    def _call(self, name: str, payload: bytes, invocation_type: str) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self.client.invoke(
                FunctionName=self.function_name(name),
                InvocationType=invocation_type,
                Payload=payload,
            )
        except Exception as exc:
            if type(exc).__name__ in _TIMEOUT_ERRORS:
                raise SkillTimeout(name, "the function did not answer in time") from exc
            code = error_code(exc)
            if code == "TooManyRequestsException":
                raise SkillError(name, "throttled (TooManyRequestsException)") from exc
            if code is not None:
                raise SkillError(name, f"{code}: {exc}") from exc
            if type(exc).__module__.startswith(("botocore", "urllib3")):
                raise SkillError(name, f"{type(exc).__name__}: {exc}") from exc
            raise
        return response

    def close(self) -> None:
        """The client is shared per process (`aws_clients`); nothing to release here."""


def _encode(name: str, event: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(dict(event), separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise SkillError(name, f"event is not JSON-serialisable: {exc}") from exc
