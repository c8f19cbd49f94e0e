"""The API's AWS Lambda entry: Mangum around `api.app.create_app()` (HTTP API, payload v2).

Everything is built when Lambda imports this module — in the init phase, which SnapStart
snapshots and which is not billed as request time — not on the first request: the settings, the
clients and services (`core.bootstrap.build_services`) and the app. Warm invocations reuse them.
The lifespan is off: Mangum would otherwise run startup and shutdown around every invocation;
on AWS nothing runs in the background (jobs are their own functions).
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from api.app import create_app
from core.bootstrap import build_services

services = build_services()
app = create_app(services)
_mangum = Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _mangum(event, context)
    return response
