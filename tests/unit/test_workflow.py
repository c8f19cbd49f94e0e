"""Unit tests for the States Language interpreter on small definitions: paths and templates,
choices, retries with backoff (an instant fake sleep that records the delays), catchers, the
failure path, timeouts, substitutions, and definitions it refuses to run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.workflow import (
    LAMBDA_INVOKE,
    SAGEMAKER_TRAINING_SYNC,
    StatesError,
    WorkflowDefinitionError,
    load_definition,
    read_path,
    run_workflow,
    write_path,
)


class Steps:
    """A fake function host: named steps, per-step failures to raise first, and every call."""

    def __init__(self, failures: dict[str, list[Exception]] | None = None) -> None:
        self.failures = failures or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((function, payload))
        pending = self.failures.get(function)
        if pending:
            raise pending.pop(0)
        if function == "slow":
            await asyncio.sleep(5)
        return {"function": function, "doubled": payload.get("n", 0) * 2}


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def task(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function, "Payload": {"n.$": "$.n"}},
        "ResultSelector": {"out.$": "$.Payload"},
        **extra,
    }


def run(definition: dict[str, Any], data: Any, steps: Steps, sleeps: Sleeps | None = None) -> Any:
    return asyncio.run(
        run_workflow(
            load_definition(definition),
            data,
            invoke=steps.invoke,
            sleep=sleeps or Sleeps(),
        )
    )


def test_paths() -> None:
    data = {"a": {"b": [10, {"c": "x"}]}}
    assert read_path(data, "$") == data
    assert read_path(data, "$.a.b[1].c") == "x"
    assert read_path(data, "$$.Execution.Name", {"Execution": {"Name": "n"}}) == "n"
    with pytest.raises(StatesError):
        read_path(data, "$.a.missing")
    assert write_path(data, "$.a.d.e", 1)["a"]["d"] == {"e": 1}
    assert "d" not in data["a"]  # the input is not changed in place
    assert write_path(data, None, 1) == data
    assert write_path(data, "$", 1) == 1


def test_task_result_path_and_pass() -> None:
    definition = {
        "StartAt": "Double",
        "States": {
            "Double": task("double", ResultPath="$.double", Next="Shape"),
            "Shape": {
                "Type": "Pass",
                "Parameters": {"answer.$": "$.double.out.doubled", "fixed": "yes"},
                "End": True,
            },
        },
    }
    steps = Steps()
    result = run(definition, {"n": 21}, steps)
    assert result.succeeded
    assert result.output == {"answer": 42, "fixed": "yes"}
    assert steps.calls == [("double", {"n": 21})]
    assert [r.name for r in result.states] == ["Double", "Shape"]


def test_choice_rules_and_default() -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.n", "NumericGreaterThanEquals": 10},
                            {"Not": {"Variable": "$.mode", "StringEquals": "quiet"}},
                        ],
                        "Next": "Big",
                    },
                    {"Variable": "$.flag", "IsPresent": True, "Next": "Flagged"},
                ],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Result": "big", "End": True},
            "Flagged": {"Type": "Pass", "Result": "flagged", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "End": True},
        },
    }
    assert run(definition, {"n": 10, "mode": "loud"}, Steps()).output == "big"
    assert run(definition, {"n": 10, "mode": "quiet", "flag": 1}, Steps()).output == "flagged"
    assert run(definition, {"n": 1}, Steps()).output == "small"


def test_no_matching_choice_fails_the_run() -> None:
    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Done"}],
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = run(definition, {"n": 2}, Steps())
    assert not result.succeeded and result.error == "States.NoChoiceMatched"


def test_retries_back_off_as_defined_then_succeed() -> None:
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": task(
                "flaky",
                Retry=[
                    {
                        "ErrorEquals": ["ConnectionError"],
                        "IntervalSeconds": 2,
                        "MaxAttempts": 3,
                        "BackoffRate": 3.0,
                    }
                ],
                End=True,
            )
        },
    }
    steps = Steps({"flaky": [ConnectionError("a"), ConnectionError("b"), ConnectionError("c")]})
    sleeps = Sleeps()
    result = run(definition, {"n": 1}, steps, sleeps)
    assert result.succeeded
    assert len(steps.calls) == 4
    assert sleeps.delays == [2.0, 6.0, 18.0]
    assert result.states[0].attempts == 4
    assert result.states[0].error is None


def test_retries_run_out_and_the_catcher_takes_the_failure_path() -> None:
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": task(
                "train",
                ResultPath="$.train",
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
                Next="Publish",
            ),
            "Publish": task("publish", End=True),
            "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        },
    }
    steps = Steps({"train": [RuntimeError("out of memory")] * 5})
    sleeps = Sleeps()
    result = run(definition, {"n": 1}, steps, sleeps)
    assert not result.succeeded
    assert (result.error, result.cause) == ("RuntimeError", "out of memory")
    assert [c[0] for c in steps.calls] == ["train"] * 3  # 1 + MaxAttempts, never publish
    assert sleeps.delays == [1.0, 2.0]  # the defaults: 1 s, backoff 2
    assert [(r.name, r.status) for r in result.states] == [
        ("Train", "caught"),
        ("Failed", "failed"),
    ]


def test_an_uncaught_error_fails_the_run_with_its_name() -> None:
    definition = {"StartAt": "Boom", "States": {"Boom": task("boom", End=True)}}
    result = run(definition, {"n": 1}, Steps({"boom": [ValueError("bad rows")]}))
    assert (result.status, result.error, result.cause) == ("FAILED", "ValueError", "bad rows")


def test_the_first_matching_retrier_decides() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                "t",
                Retry=[
                    {"ErrorEquals": ["ValueError"], "MaxAttempts": 0},
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5},
                ],
                End=True,
            )
        },
    }
    steps = Steps({"t": [ValueError("no retry for this one")]})
    result = run(definition, {"n": 1}, steps)
    assert result.error == "ValueError" and len(steps.calls) == 1


def test_timeouts_are_states_timeout_and_not_task_failed() -> None:
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": task(
                "slow",
                TimeoutSeconds=0.05,
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}],
                Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "TooSlow"}],
                End=True,
            ),
            "TooSlow": {"Type": "Fail", "Error": "TooSlow"},
        },
    }
    steps = Steps()
    result = run(definition, {"n": 1}, steps)
    assert result.error == "TooSlow"
    assert len(steps.calls) == 1  # States.TaskFailed does not match a timeout


def test_substitutions_and_the_sagemaker_task_run_through_invoke() -> None:
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": SAGEMAKER_TRAINING_SYNC,
                "Parameters": {
                    "TrainingJobName.$": "$.name",
                    "AlgorithmSpecification": {"TrainingImage": "${Image}"},
                    "HyperParameters": {"n.$": "$.n"},
                },
                "ResultSelector": {"status.$": "$.TrainingJobStatus"},
                "End": True,
            }
        },
    }
    steps = Steps()
    result = asyncio.run(
        run_workflow(
            load_definition(definition, {"Image": "train"}),
            {"name": "job-1", "n": 4},
            invoke=steps.invoke,
        )
    )
    assert result.output == {"status": "Completed"}
    assert steps.calls == [("train", {"step": "train", "n": 4})]


def test_progress_sees_every_state() -> None:
    events: list[dict[str, Any]] = []
    definition = {
        "StartAt": "A",
        "States": {
            "A": task("a", Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}], Next="B"),
            "B": {"Type": "Succeed"},
        },
    }
    steps = Steps({"a": [RuntimeError("once")]})
    asyncio.run(
        run_workflow(
            load_definition(definition),
            {"n": 1},
            invoke=steps.invoke,
            progress=events.append,
            sleep=Sleeps(),
        )
    )
    assert [(e["state"], e["status"]) for e in events] == [
        ("A", "entered"),
        ("A", "retrying"),
        ("A", "succeeded"),
        ("B", "entered"),
        ("B", "succeeded"),
    ]


def test_loops_are_bounded() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}}
    result = asyncio.run(
        run_workflow(load_definition(definition), {}, invoke=Steps().invoke, max_transitions=20)
    )
    assert result.error == "States.Runtime"


@pytest.mark.parametrize(
    "definition",
    [
        {"StartAt": "A", "States": {"A": {"Type": "Map", "End": True}}},
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": True}}},
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}},
        {"StartAt": "A", "States": {"A": {"Type": "Pass"}}},
        {"StartAt": "B", "States": {"A": {"Type": "Succeed"}}},
    ],
)
def test_unsupported_or_broken_definitions_are_refused(definition: dict[str, Any]) -> None:
    with pytest.raises(WorkflowDefinitionError):
        load_definition(definition)


def test_a_missing_substitution_is_refused() -> None:
    with pytest.raises(WorkflowDefinitionError):
        load_definition(
            '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "${X}", "End": true}}}', {}
        )
