"""The API's AWS Lambda entry: Mangum around `api.app.create_app()` (HTTP API, payload v2).

Importing this module is cheap; the first invocation builds the container (DynamoDB, S3, Lambda
clients from `LAMBDESK_*`) and the app once per execution environment, and later invocations
reuse them. The lifespan is off: Mangum would otherwise run startup and shutdown around every
invocation, and the skills warm themselves in their own functions.
"""

from __future__ import annotations

from typing import Any

_handler: Any = None


def _build() -> Any:
    from mangum import Mangum

    from api.app import create_app
    from core.bootstrap import build_container

    return Mangum(create_app(build_container()), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        _handler = _build()
    response: dict[str, Any] = _handler(event, context)
    return response
