"""The fields of a training workflow step's event (`training.workflow_steps`,
`training.vision_workflow`): read from the States Language state's input, where a number may
arrive as a string and an absent value as "None"; a missing or invalid field is a 400."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import BadRequest
from core.models import validate_tenant_id


def text_field(event: Mapping[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"workflow step: {name} is required")
    return value


def tenant_field(event: Mapping[str, Any]) -> str:
    try:
        return validate_tenant_id(text_field(event, "tenant_id"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def flag_field(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def score_field(value: Any) -> float | None:
    if value is None or value == "" or value == "None":
        return None
    return float(value)
