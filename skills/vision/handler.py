"""AWS Lambda entry for the vision skill: runs `skills.vision.skill.run` on each event with the
process's skill context, built at import (the init phase) and reused while the container is
warm."""

from __future__ import annotations

from typing import Any

from core.bootstrap import build_skill_context
from skills.vision.skill import run

context = build_skill_context()


def handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    return run(event, context)
