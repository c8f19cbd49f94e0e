"""The one workflow definition and its two homes agree: every `${...}` placeholder of
`training/workflows/intents.asl.json` has a value in serverless.yml's DefinitionSubstitutions
and in the local substitutions, and the state machine is built from that same file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from core.workflow import load_definition
from training.workflows import definition_text, local_substitutions

ROOT = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Sub, !GetAtt, !Ref) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def test_placeholders_have_values_on_aws_and_here() -> None:
    text = definition_text("intents")
    placeholders = set(re.findall(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}", text))
    config = yaml.load((ROOT / "serverless.yml").read_text(), Loader=_CfnLoader)
    machine = config["resources"]["Resources"]["IntentsWorkflow"]["Properties"]
    assert machine["Definition"] == "${file(training/workflows/intents.asl.json)}"
    assert set(machine["DefinitionSubstitutions"]) == placeholders
    assert set(local_substitutions()) == placeholders
    load_definition(text, local_substitutions(runner="sagemaker"))  # checks every state


def test_the_train_runner_is_a_stage_parameter() -> None:
    config = yaml.load((ROOT / "serverless.yml").read_text(), Loader=_CfnLoader)
    assert config["params"]["default"]["trainRunner"] == "lambda"
    assert config["params"]["gpu"]["trainRunner"] == "sagemaker"
    machine = config["resources"]["Resources"]["IntentsWorkflow"]["Properties"]
    assert machine["DefinitionSubstitutions"]["TrainRunner"] == "${param:trainRunner}"


def test_the_vision_state_machine_is_built_from_its_definition() -> None:
    text = definition_text("vision")
    placeholders = set(re.findall(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}", text))
    config = yaml.load((ROOT / "serverless.yml").read_text(), Loader=_CfnLoader)
    machine = config["resources"]["Resources"]["VisionWorkflow"]["Properties"]
    assert machine["Definition"] == "${file(training/workflows/vision.asl.json)}"
    assert set(machine["DefinitionSubstitutions"]) == placeholders == {"StepsFunction"}
    assert placeholders <= set(local_substitutions())
    load_definition(text, local_substitutions())
