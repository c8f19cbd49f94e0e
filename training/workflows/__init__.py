"""The training workflows' States Language definitions (`<name>.asl.json`), one file each for AWS
Step Functions (serverless.yml reads it as the state machine's definition) and for the local
interpreter (`core.workflow`), and the substitutions that make a definition run locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.workflow import load_definition

HERE = Path(__file__).parent
WORKFLOWS = ("intents", "vision")
RUNNERS = ("lambda", "sagemaker")
# The steps' function name for the local invoker (on AWS: the train function's ARN).
LOCAL_STEPS_FUNCTION = "train"


def definition_text(name: str) -> str:
    if name not in WORKFLOWS:
        raise ValueError(f"unknown workflow {name!r} (known: {', '.join(WORKFLOWS)})")
    return (HERE / f"{name}.asl.json").read_text(encoding="utf-8")


def local_substitutions(*, runner: str = "lambda") -> dict[str, str]:
    """`${...}` values for running here: every function, including the GPU training job's
    image, is the in-process steps function; AWS names are placeholders."""
    if runner not in RUNNERS:
        raise ValueError(f"runner must be one of {', '.join(RUNNERS)}")
    return {
        "TrainRunner": runner,
        "StepsFunction": LOCAL_STEPS_FUNCTION,
        "TrainImage": LOCAL_STEPS_FUNCTION,
        "SageMakerRoleArn": "local",
        "ModelOutputUri": "local",
        "GpuInstanceType": "local",
        "TableName": "local",
        "BucketName": "local",
        "FunctionPrefix": "local",
    }


def local_definition(name: str, *, runner: str = "lambda") -> dict[str, Any]:
    return load_definition(definition_text(name), local_substitutions(runner=runner))
