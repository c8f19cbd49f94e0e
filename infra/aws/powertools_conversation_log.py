"""ConversationLog on CloudWatch: Powertools structured logs and EMF metrics, one set per turn.

Each (already redacted) `TurnRecord` is one JSON log line from a Powertools `Logger` with
`tenant`, `session` and `request_id` keys; anything else written through this logger is masked
too (`core.logging.RedactingFilter` on its handler, exception text in its formatter). Metrics go
out in CloudWatch Embedded Metric Format in namespace `lambdesk`: `Turns`, `Fallbacks`,
`Handoffs` and `TurnLatency` with dimension `tenant`, and per skill `SkillLatency` /
`SkillErrors` with dimensions `tenant` and `skill`. They are flushed at the end of every turn
(explicit flush of ephemeral metric sets), so this works inside a Lambda handler and in any
other process alike; on Lambda, CloudWatch turns the lines into metrics.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from core.logging import RedactingFilter
from core.models import Source, TurnRecord
from core.ports import ConversationLog
from core.redaction import redact

NAMESPACE = "lambdesk"


class _CurrentStdout(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """A stream handler bound to whatever `sys.stdout` is when a record is written (so redirected
    or captured stdout sees the lines)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _redacting_formatter() -> Any:
    """Powertools' JSON formatter, with exception text masked like every other log text (it
    formats `exc_info` itself rather than the record's already masked `exc_text`)."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    class RedactingPowertoolsFormatter(LambdaPowertoolsFormatter):
        def formatException(self, ei: Any) -> str:
            return redact(super().formatException(ei))

    return RedactingPowertoolsFormatter()


class PowertoolsConversationLog(ConversationLog):
    def __init__(self, *, service: str, namespace: str = NAMESPACE) -> None:
        from aws_lambda_powertools import Logger

        self.service = service
        self.namespace = namespace
        handler = _CurrentStdout()
        handler.addFilter(RedactingFilter())  # messages and extras, whatever is logged here
        self.logger = Logger(
            service=service, logger_handler=handler, logger_formatter=_redacting_formatter()
        )

    def _write(self, record: TurnRecord) -> None:
        turn = record.model_dump(mode="json")
        self.logger.info(
            "turn",
            extra={
                "tenant": record.tenant_id,
                "session": record.session_id,
                "request_id": record.request_id,
                "turn": turn,
            },
        )
        self._emit_metrics(record)

    def _emit_metrics(self, record: TurnRecord) -> None:
        turn_metrics = self._metrics(tenant=record.tenant_id)
        turn_metrics.add_metric(name="Turns", unit="Count", value=1)
        turn_metrics.add_metric(
            name="Fallbacks", unit="Count", value=int(record.source == Source.FALLBACK)
        )
        turn_metrics.add_metric(
            name="Handoffs", unit="Count", value=int(record.source == Source.HANDOFF)
        )
        if "total" in record.latency_ms:
            turn_metrics.add_metric(
                name="TurnLatency", unit="Milliseconds", value=record.latency_ms["total"]
            )
        turn_metrics.flush_metrics()
        skills = {k for k in record.latency_ms if k != "total"} | set(record.degraded)
        for skill in sorted(skills):
            skill_metrics = self._metrics(tenant=record.tenant_id, skill=skill)
            if skill in record.latency_ms:
                skill_metrics.add_metric(
                    name="SkillLatency", unit="Milliseconds", value=record.latency_ms[skill]
                )
            skill_metrics.add_metric(
                name="SkillErrors", unit="Count", value=int(skill in record.degraded)
            )
            skill_metrics.flush_metrics()

    def _metrics(self, **dimensions: str) -> Any:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        metrics = EphemeralMetrics(namespace=self.namespace, service=self.service)
        for name, value in dimensions.items():
            metrics.add_dimension(name=name, value=value)
        return metrics
