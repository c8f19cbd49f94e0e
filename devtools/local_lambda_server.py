"""A local AWS Lambda `Invoke` endpoint that runs the skills' `handler.py` in this process.

moto cannot execute Lambda functions without a docker engine (it answers `FunctionError: Handled`
or echoes the payload), so `make run-aws-local` and the AWS integration tests point the Lambda
client here instead (`AWS_ENDPOINT_URL_LAMBDA`). It speaks the real wire protocol that boto3 uses:

- `POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type`:
  `RequestResponse` → 200 and the handler's JSON; a raised exception → 200 with
  `X-Amz-Function-Error: Unhandled` and `{"errorMessage", "errorType", "stackTrace"}` like AWS;
  `Event` → 202 at once, the handler runs in the background; `DryRun` → 204.
- an unknown function → 404 `ResourceNotFoundException`; more concurrent calls than a function's
  reserved concurrency → 429 `TooManyRequestsException` (as Lambda throttles).

Function names are `<function_prefix><skill>`; a skill resolves to a registered callable, else to
`skills.<skill>.handler.handler` (job functions: `HANDLER_MODULES`) imported on first use.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[Any, Any], Any]
# Functions whose handler is not `skills.<name>.handler` (serverless.yml names the same ones).
HANDLER_MODULES = {"jobs": "workers.lambda_handler", "train": "training.handler"}
_PATH_PREFIX = "/2015-03-31/functions/"
_PATH_SUFFIX = "/invocations"
log = logging.getLogger(__name__)


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object handlers commonly read."""

    function_name: str
    timeout_s: float = 60.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


@dataclass
class _Function:
    handler: Handler | None
    concurrency: int | None
    running: int = 0


class LocalLambdaServer:
    """Start with `start()`, point boto3 at `url`, stop with `stop()`."""

    def __init__(
        self,
        *,
        function_prefix: str,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        load_skill_handlers: bool = True,
        async_workers: int = 4,
    ) -> None:
        self.function_prefix = function_prefix
        self.region = region
        self.load_skill_handlers = load_skill_handlers
        self._functions: dict[str, _Function] = {}
        self._lock = threading.Lock()
        self._events = ThreadPoolExecutor(async_workers, thread_name_prefix="lambda-event")
        self._pending: set[Any] = set()
        self._httpd = ThreadingHTTPServer((host, port), self._make_request_handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def register(self, skill: str, handler: Handler, *, concurrency: int | None = None) -> None:
        """Serve `<prefix><skill>` with `handler(event, context)`; `concurrency` caps parallel
        invocations like reserved concurrency (excess calls are throttled with a 429)."""
        with self._lock:
            self._functions[skill] = _Function(handler=handler, concurrency=concurrency)

    def unregister(self, skill: str) -> None:
        """Forget a registration (the skill resolves to its `handler.py` again)."""
        with self._lock:
            self._functions.pop(skill, None)

    def start(self) -> LocalLambdaServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="local-lambda", daemon=True
        )
        self._thread.start()
        return self

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every accepted `Event` invocation has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return
            time.sleep(0.01)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._events.shutdown(wait=False, cancel_futures=True)

    # ----------------------------------------------------------------- dispatch
    def _resolve(self, function_name: str) -> _Function | None:
        name = function_name.rsplit(":function:", 1)[-1]  # a full ARN works too
        if not name.startswith(self.function_prefix):
            return None
        skill = name[len(self.function_prefix) :]
        with self._lock:
            function = self._functions.get(skill)
        if function is not None:
            return function
        if not self.load_skill_handlers or not skill.isidentifier():
            return None
        try:
            module = importlib.import_module(HANDLER_MODULES.get(skill, f"skills.{skill}.handler"))
        except ModuleNotFoundError:
            return None
        with self._lock:
            return self._functions.setdefault(
                skill, _Function(handler=module.handler, concurrency=None)
            )

    def _acquire(self, function: _Function) -> bool:
        with self._lock:
            if function.concurrency is not None and function.running >= function.concurrency:
                return False
            function.running += 1
            return True

    def _release(self, function: _Function) -> None:
        with self._lock:
            function.running -= 1

    def _run(self, function: _Function, name: str, payload: bytes) -> tuple[bool, bytes]:
        """(ok, body): the handler's JSON, or an AWS-shaped error payload."""
        assert function.handler is not None
        context = LocalLambdaContext(
            function_name=name,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:000000000000:function:{name}",
        )
        try:
            event = json.loads(payload) if payload else {}
            result = function.handler(event, context)
            return True, json.dumps(result).encode()
        except Exception as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_exception(exc)[1:],
            }
            return False, json.dumps(error).encode()

    def _run_event(self, function: _Function, name: str, payload: bytes) -> None:
        try:
            ok, body = self._run(function, name, payload)
            if not ok:
                log.warning("async invocation of %s failed: %s", name, body[:500])
        finally:
            self._release(function)

    def _make_request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, code: str, message: str) -> None:
                body = json.dumps({"Type": "User", "message": message}).encode()
                self._send(
                    status,
                    body,
                    {"Content-Type": "application/json", "x-amzn-ErrorType": code},
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                if not (path.startswith(_PATH_PREFIX) and path.endswith(_PATH_SUFFIX)):
                    self._error(404, "UnknownOperationException", f"no route for {path}")
                    return
                from urllib.parse import unquote

                name = unquote(path[len(_PATH_PREFIX) : -len(_PATH_SUFFIX)])
                function = server._resolve(name)
                if function is None:
                    self._error(404, "ResourceNotFoundException", f"Function not found: {name}")
                    return
                kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
                if kind == "DryRun":
                    self._send(204, b"", {})
                    return
                if not server._acquire(function):
                    self._error(429, "TooManyRequestsException", "Rate Exceeded.")
                    return
                if kind == "Event":
                    future = server._events.submit(server._run_event, function, name, payload)
                    with server._lock:
                        server._pending.add(future)
                    future.add_done_callback(lambda f: server._discard(f))
                    self._send(202, b"", {"X-Amz-Executed-Version": "$LATEST"})
                    return
                try:
                    ok, body = server._run(function, name, payload)
                finally:
                    server._release(function)
                headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
                if not ok:
                    headers["X-Amz-Function-Error"] = "Unhandled"
                self._send(200, body, headers)

        return RequestHandler

    def _discard(self, future: Any) -> None:
        with self._lock:
            self._pending.discard(future)
