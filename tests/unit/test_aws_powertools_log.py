"""The Powertools conversation log prints one redacted JSON log line per turn and EMF metrics
(namespace `lambdesk`, dimension `tenant`, per-skill `SkillLatency`/`SkillErrors`) to stdout,
outside any Lambda handler."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.models import Source, TurnRecord
from infra.aws.powertools_conversation_log import PowertoolsConversationLog


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _emf(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """EMF blobs, with single-value metric lists (`[1.0]`) unwrapped."""
    blobs = [line for line in lines if "_aws" in line]
    for blob in blobs:
        for key, value in blob.items():
            if isinstance(value, list) and len(value) == 1:
                blob[key] = value[0]
    return blobs


def test_a_turn_prints_a_redacted_log_line_and_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    log = PowertoolsConversationLog(service="lambdesk-unit")
    log.record_turn(
        TurnRecord(
            tenant_id="acme",
            session_id="s1",
            request_id="r-42",
            user_text="my email is jane@example.com, call +44 20 7946 0958",
            bot_text="Sorry, I didn't get that.",
            source=Source.FALLBACK,
            latency_ms={"intent": 12.5, "retrieval": 30.0, "total": 48.0},
            degraded=["retrieval"],
        )
    )

    lines = _lines(capsys.readouterr().out)
    [entry] = [line for line in lines if line.get("message") == "turn"]
    assert (entry["tenant"], entry["session"], entry["request_id"]) == ("acme", "s1", "r-42")
    assert entry["service"] == "lambdesk-unit" and entry["level"] == "INFO"
    assert "jane@example.com" not in json.dumps(entry)
    assert "7946" not in entry["turn"]["user_text"]
    assert entry["turn"]["source"] == "fallback"

    metrics = _emf(lines)
    turn = next(m for m in metrics if "Turns" in m)
    assert turn["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "lambdesk"
    assert ["tenant" in d for d in turn["_aws"]["CloudWatchMetrics"][0]["Dimensions"]] == [True]
    assert (turn["tenant"], turn["Turns"], turn["Fallbacks"], turn["Handoffs"]) == ("acme", 1, 1, 0)
    assert turn["TurnLatency"] == 48.0
    per_skill = {m["skill"]: m for m in metrics if "skill" in m}
    assert per_skill["intent"]["SkillLatency"] == 12.5 and per_skill["intent"]["SkillErrors"] == 0
    assert per_skill["retrieval"]["SkillErrors"] == 1
    assert per_skill["retrieval"]["tenant"] == "acme"


def test_a_handoff_turn_counts_a_handoff(capsys: pytest.CaptureFixture[str]) -> None:
    log = PowertoolsConversationLog(service="lambdesk-unit")
    log.record_turn(
        TurnRecord(
            tenant_id="globex",
            session_id="s2",
            user_text="a human please",
            bot_text="Handing you over.",
            source=Source.HANDOFF,
        )
    )

    metrics = _emf(_lines(capsys.readouterr().out))
    [turn] = metrics  # no per-skill blobs when no skill ran
    assert (turn["tenant"], turn["Handoffs"], turn["Fallbacks"]) == ("globex", 1, 0)
