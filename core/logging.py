"""JSON logging for local processes: one event per line, with `tenant`, `session` and
`request_id` taken from a context variable the API sets per request.

Every log sink is masked (`core.redaction`): `install_log_redaction()` (the composition root
calls it) makes every log record the process creates carry its message, exception and stack
text already redacted, whichever handler then writes it (this JSON handler, the Lambda runtime's,
Powertools', a test's); the JSON formatter and `RedactingFilter` also mask the string values a
record carries as extras (`extra={"path": ...}`), which are set after the record is made.

On Lambda the Powertools logger writes the conversation log
(`infra/aws/powertools_conversation_log.py`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from core.redaction import redact

log_context: ContextVar[dict[str, str] | None] = ContextVar("lambdesk_log_context", default=None)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
_MAX_DEPTH = 6  # nested extras deeper than this are written as they are
_install_lock = threading.Lock()
_installed = False


def bind_log_context(**values: str | None) -> None:
    """Add keys (tenant, session, request_id) to every log line of the current request/task."""
    current = dict(log_context.get() or {})
    current.update({k: v for k, v in values.items() if v is not None})
    log_context.set(current)


def redact_value(value: Any, depth: int = 0) -> Any:
    """`value` with every string in it (in dicts, lists and tuples too) redacted."""
    if isinstance(value, str):
        return redact(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {key: redact_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item, depth + 1) for item in value]
    return value


def _redact_text(record: logging.LogRecord) -> None:
    """Mask the message (arguments merged in), the exception text and the stack text (once)."""
    if record.__dict__.get("_lambdesk_redacted"):
        return
    record.__dict__["_lambdesk_redacted"] = True
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what there is
        message = str(record.msg)
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def redact_extras(record: logging.LogRecord) -> None:
    """Mask the string values a record carries as extras."""
    for key, value in list(record.__dict__.items()):
        if key not in _RESERVED and not key.startswith("_"):
            record.__dict__[key] = redact_value(value)


class RedactingFilter(logging.Filter):
    """A handler filter that masks a record's text and extras before the handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_text(record)
        redact_extras(record)
        return True


def install_log_redaction() -> None:
    """Make every log record of this process redacted from its creation (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_text(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        _redact_text(record)
        event: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update(redact_value(log_context.get() or {}))
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                event[key] = redact_value(value)
        if record.exc_text:
            event["exception"] = record.exc_text
        return json.dumps(event, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """Route every logger (uvicorn's included) through one JSON handler on stderr."""
    install_log_redaction()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
