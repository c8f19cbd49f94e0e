"""AWS Lambda entry of the training workflow's steps (the `train` function, and the state
machine's Lambda tasks): runs `training.workflow_steps.run` on each event with the process's
skill context, built at import (the init phase) and reused while the container is warm."""

from __future__ import annotations

from typing import Any

from core.bootstrap import build_skill_context
from training.workflow_steps import run

context = build_skill_context()


def handler(event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    return run(event, context)
