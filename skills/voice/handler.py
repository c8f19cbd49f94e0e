"""AWS Lambda entry for the voice skill: a thin wrapper around `skills.voice.skill.run`."""

from __future__ import annotations

from typing import Any

from core.bootstrap import build_skill_context
from core.ports import SkillContext

_ctx: SkillContext | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _ctx
    from skills.voice.skill import run

    if _ctx is None:
        _ctx = build_skill_context()
    return run(event, _ctx)
