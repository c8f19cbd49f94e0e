"""Lambda entry for the intent skill: builds the skill context once per process, then runs
`skills.intent.skill.run` on each event."""

from __future__ import annotations

from typing import Any

from core.bootstrap import build_skill_context
from core.ports import SkillContext
from skills.intent import skill

_ctx: SkillContext | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _ctx
    if _ctx is None:
        _ctx = build_skill_context()
    return skill.run(event, _ctx)
