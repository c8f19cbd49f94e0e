"""Personal data sent through a real turn reaches no log sink unmasked: not the JSON-lines
conversation log, not the Powertools (CloudWatch) log, not the application and access logs,
not the error messages that echo a request."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from core.logging import JsonFormatter
from core.models import TurnRecord
from core.ports import ConversationLog, SkillContext
from infra.aws.powertools_conversation_log import PowertoolsConversationLog
from tests.integration.conftest import LiveApi

NBSP = "\u00a0"
PII_TEXT = (
    f"my card 4242{NBSP}4242{NBSP}4242{NBSP}4242 was refused, the other one is "
    "6011/1111/1111/1117; call me on +44 20 7946 0958 or write to jane.doe@example.com, "
    "IBAN GB82 WEST 1234 5698 7654 32"
)
# Any of these in a sink is a leak.
FRAGMENTS = (
    f"4242{NBSP}4242",
    "4242424242424242",
    "6011/1111",
    "1111/1117",
    "7946 0958",
    "79460958",
    "jane.doe",
    "example.com",
    "WEST 1234",
    "GB82",
)


def leaks(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


class TeeLog(ConversationLog):
    """Every turn to several sinks, each masking on its own (`record_turn`)."""

    def __init__(self, *sinks: ConversationLog) -> None:
        self.sinks = sinks

    def record_turn(self, record: TurnRecord) -> None:
        for sink in self.sinks:
            sink.record_turn(record)

    def _write(self, record: TurnRecord) -> None:  # pragma: no cover - record_turn fans out
        raise NotImplementedError


def failing_intent(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """An intent skill whose error echoes its input, as library errors often do."""
    raise ValueError(f"cannot classify {event['text']!r}")


def test_pii_in_a_turn_reaches_no_sink_unmasked(
    live_api: LiveApi,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    services = live_api.services
    services.conversation.log = TeeLog(
        services.log, PowertoolsConversationLog(service="lambdesk-test")
    )
    services.skills.register("intent", failing_intent)  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO)

    turn = live_api.client.post("/v1/chat", headers=live_api.acme.admin, json={"text": PII_TEXT})
    echoed = [
        live_api.client.post(
            "/v1/chat",
            headers=live_api.acme.admin,
            json={"session_id": "4242 4242 4242 4242", "text": "hello"},
        ),
        live_api.client.get(
            "/v1/sessions/jane.doe@example.com/messages", headers=live_api.acme.admin
        ),
        live_api.client.delete(
            "/v1/knowledge/documents/GB82WEST12345698765432", headers=live_api.acme.admin
        ),
    ]

    assert turn.status_code == 200, turn.text
    # the conversation log (JSON lines), with the turn in it, masked
    jsonl = "".join(
        p.read_text(encoding="utf-8")
        for p in (services.settings.resolved_data_dir / "logs").rglob("*.jsonl")
    )
    [line] = [json.loads(row) for row in jsonl.splitlines()]
    assert leaks(line["user_text"]) == [] and "[card]" in line["user_text"]
    assert leaks(json.dumps(line, ensure_ascii=False)) == []
    # the Powertools (CloudWatch) log line of the same turn
    printed = capsys.readouterr().out
    [entry] = [json.loads(row) for row in printed.splitlines() if '"message":"turn"' in row]
    assert "[card]" in entry["turn"]["user_text"]
    assert leaks(json.dumps(entry, ensure_ascii=False)) == []
    assert leaks(printed.encode().decode("unicode_escape", errors="ignore")) == []
    # application and access logs: what any handler would write, ours or another
    assert any("skill_degraded" in record.getMessage() for record in caplog.records)
    assert any(record.name == "lambdesk.access" for record in caplog.records)
    formatter = JsonFormatter()
    for record in caplog.records:
        written = json.loads(formatter.format(record))
        assert leaks(json.dumps(written, ensure_ascii=False)) == [], written
    assert leaks(caplog.text) == []
    # error messages that echo the request
    for response in echoed:
        assert response.status_code == 404, response.text
        assert leaks(response.json()["error"]["message"]) == [], response.text
