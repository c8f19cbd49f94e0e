"""The API's AWS Lambda entry: Mangum around `api.app.create_app()` (HTTP API, payload v2).

Everything is built when Lambda imports this module — in the init phase, which SnapStart
snapshots and which is not billed as request time — not on the first request: the settings, the
clients and services (`core.bootstrap.build_services`) and the app. Warm invocations reuse them.
The lifespan is off: Mangum would otherwise run startup and shutdown around every invocation;
on AWS nothing runs in the background (jobs are their own functions).

The garbage collector is off while init imports and builds (it allocates a great deal and frees
next to nothing: each full collection rescanned the growing heap), and what init built is then
frozen (`gc.freeze`): it lives as long as the process, so no later collection scans it again —
without that, the first request paid for a full collection of the whole init heap.
"""

from __future__ import annotations

import gc
from typing import Any

gc.disable()
try:
    from mangum import Mangum

    from api.app import create_app
    from core.bootstrap import build_services

    services = build_services()
    app = create_app(services)
    _mangum = Mangum(app, lifespan="off")
finally:
    gc.enable()
gc.freeze()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response: dict[str, Any] = _mangum(event, context)
    return response
