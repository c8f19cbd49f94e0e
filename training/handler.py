"""AWS Lambda entry of the training workflow's steps (the `train` function): runs
`training.workflow_steps.run` on each event with the process's skill context."""

from __future__ import annotations

from typing import Any

from core.bootstrap import process_skill_context


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from training.workflow_steps import run

    return run(event, process_skill_context())
