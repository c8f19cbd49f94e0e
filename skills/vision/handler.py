"""AWS Lambda entry for the vision skill: runs `skills.vision.skill.run` on each event with the
process's skill context (built once per warm container)."""

from __future__ import annotations

from typing import Any

from core.bootstrap import process_skill_context


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from skills.vision.skill import run

    return run(event, process_skill_context())
