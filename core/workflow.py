"""A small interpreter of Amazon States Language: runs a Step Functions definition here, so that
the definition deployed on AWS (its retries, choices and failure path) is the one exercised
locally and in tests.

    result = await run_workflow(definition, {"tenant_id": "acme"}, invoke=invoke)

The subset (what `training/workflows/*.asl.json` uses, checked on load; anything else is
refused with `WorkflowDefinitionError` rather than run differently):

- states `Task`, `Choice`, `Pass`, `Wait` (`Seconds`), `Succeed`, `Fail` (`Error`/`Cause`,
  `ErrorPath`/`CausePath`);
- `InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`, with keys ending in
  `.$` taking a reference path (`$.a.b`, `$.a[0]`, `$` itself; `$$.` for the context object:
  `Execution.Input`, `Execution.Name`, `State.Name`, `State.RetryCount`);
- `Retry` (`ErrorEquals`, `IntervalSeconds`, `MaxAttempts`, `BackoffRate`, `MaxDelaySeconds`)
  and `Catch` (`ErrorEquals`, `Next`, `ResultPath`) on tasks; error names `States.ALL`,
  `States.TaskFailed` (any task error but a timeout), `States.Timeout` (`TimeoutSeconds`), and
  the error's own name;
- Choice rules with `Variable` and `StringEquals`, `NumericEquals`, `NumericLessThan`,
  `NumericGreaterThan`, `NumericLessThanEquals`, `NumericGreaterThanEquals`, `BooleanEquals`,
  `IsPresent`, `IsNull` (and their `...Path` forms), `And`, `Or`, `Not`, and `Default`;
- task resources `arn:aws:states:::lambda:invoke` (`Parameters.FunctionName` and `Payload`;
  the result is `{"Payload": ..., "StatusCode": 200}` as on AWS) and
  `arn:aws:states:::sagemaker:createTrainingJob.sync`, which runs locally as
  `invoke(<the job's TrainingImage>, {"step": "train", **HyperParameters})` and returns a
  completed-job description (on AWS, Step Functions starts a GPU training job and waits).

`${Name}` placeholders anywhere in the definition are replaced from `substitutions` first (on AWS,
CloudFormation's `DefinitionSubstitutions` do the same). Waits go through an injectable `sleep`
(tests pass one that returns at once); the number of state transitions is bounded.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SAGEMAKER_TRAINING_SYNC = "arn:aws:states:::sagemaker:createTrainingJob.sync"
RESOURCES = (LAMBDA_INVOKE, SAGEMAKER_TRAINING_SYNC)
STATE_TYPES = ("Task", "Choice", "Pass", "Wait", "Succeed", "Fail")
MAX_TRANSITIONS = 1000
MAX_WAIT_S = 3600.0

Invoke = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
Progress = Callable[[dict[str, Any]], Awaitable[None] | None]
Sleep = Callable[[float], Awaitable[None]]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
_PATH_PART = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")
_COMPARATORS = {
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericLessThanEquals": lambda a, b: _number(a) and a <= b,
    "NumericGreaterThanEquals": lambda a, b: _number(a) and a >= b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class WorkflowDefinitionError(ValueError):
    """The definition uses something this interpreter does not run (or is malformed)."""


class StatesError(Exception):
    """An error inside the run, named as States Language names errors."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


def error_name(exc: BaseException) -> str:
    """The States Language name of an exception raised by a task: its `error` attribute when it
    has one (e.g. `StatesError`), else its class name, like a Lambda function's `errorType`; for
    a wrapper raised `from` the task's own exception (a skill invoker's), that exception's."""
    named = getattr(exc, "error", None)
    if isinstance(named, str) and named:
        return named
    cause = exc.__cause__
    if cause is not None and type(exc).__name__ in {"SkillError"}:
        return error_name(cause)
    return type(exc).__name__


@dataclass
class StateRecord:
    """One state's run: what the progress callback saw, kept in the result."""

    name: str
    type: str
    status: str  # "succeeded", "failed", "caught"
    attempts: int = 1
    seconds: float = 0.0
    error: str | None = None
    cause: str | None = None


@dataclass
class ExecutionResult:
    status: str  # "SUCCEEDED" or "FAILED"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    states: list[StateRecord] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "states": [record.__dict__ for record in self.states],
        }


# --------------------------------------------------------------------------- definition


def load_definition(
    source: str | Mapping[str, Any], substitutions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Parse (JSON text or a mapping), substitute `${Name}` placeholders, and check that every
    state and field is one this interpreter runs."""
    text = source if isinstance(source, str) else json.dumps(source)
    if substitutions is not None:

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in substitutions:
                raise WorkflowDefinitionError(f"no substitution for ${{{name}}}")
            return json.dumps(str(substitutions[name]))[1:-1]  # escaped for a JSON string

        text = _PLACEHOLDER.sub(replace, text)
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowDefinitionError(f"not JSON: {exc}") from exc
    _check(definition)
    return dict(definition)


def _check(definition: Any) -> None:
    if not isinstance(definition, dict) or "StartAt" not in definition:
        raise WorkflowDefinitionError("a definition needs StartAt and States")
    states = definition.get("States")
    if not isinstance(states, dict) or definition["StartAt"] not in states:
        raise WorkflowDefinitionError("StartAt must name one of the States")
    for name, state in states.items():
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            raise WorkflowDefinitionError(f"state {name!r}: type {kind!r} is not supported")
        targets = [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        targets += [c.get("Next") for c in state.get("Choices", [])]
        for target in targets:
            if target is not None and target not in states:
                raise WorkflowDefinitionError(f"state {name!r}: no state {target!r}")
        if kind == "Task" and state.get("Resource") not in RESOURCES:
            raise WorkflowDefinitionError(
                f"state {name!r}: resource {state.get('Resource')!r} is not supported"
            )
        ends = kind in ("Succeed", "Fail", "Choice") or state.get("End") is True
        if not ends and "Next" not in state:
            raise WorkflowDefinitionError(f"state {name!r} has neither Next nor End")


# --------------------------------------------------------------------------- paths


def read_path(data: Any, path: str, context: Mapping[str, Any] | None = None) -> Any:
    """The value at a reference path (`$`, `$.a.b[0]`, `$$.Execution.Input`)."""
    if path.startswith("$$"):
        if context is None:
            raise StatesError("States.Runtime", f"no context object for {path}")
        data, rest = context, path[2:]
    elif path.startswith("$"):
        rest = path[1:]
    else:
        raise StatesError("States.Runtime", f"not a path: {path!r}")
    position = 0
    while position < len(rest):
        match = _PATH_PART.match(rest, position)
        if match is None:
            raise StatesError("States.Runtime", f"unsupported path {path!r}")
        key, index = match.group(1), match.group(2)
        if key is not None:
            if not isinstance(data, dict) or key not in data:
                raise StatesError("States.Runtime", f"path {path!r} not found in the input")
            data = data[key]
        else:
            if not isinstance(data, list) or int(index) >= len(data):
                raise StatesError("States.Runtime", f"path {path!r} not found in the input")
            data = data[int(index)]
        position = match.end()
    return data


def _has_path(data: Any, path: str, context: Mapping[str, Any]) -> bool:
    try:
        read_path(data, path, context)
    except StatesError:
        return False
    return True


def write_path(data: Any, path: str | None, value: Any) -> Any:
    """`ResultPath`: None discards the result, `$` replaces the input, `$.a.b` sets a field
    (creating objects on the way) on a copy of the input."""
    if path is None:
        return data
    if path == "$":
        return value
    if not path.startswith("$."):
        raise StatesError("States.Runtime", f"unsupported ResultPath {path!r}")
    keys = path[2:].split(".")
    root = deepcopy(data) if isinstance(data, dict) else {}
    node = root
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value
    return root


def fill_template(template: Any, data: Any, context: Mapping[str, Any]) -> Any:
    """`Parameters` / `ResultSelector`: keys ending in `.$` take the value at their path."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise StatesError("States.Runtime", f"{key} must be a path")
                out[key[:-2]] = read_path(data, value, context)
            else:
                out[key] = fill_template(value, data, context)
        return out
    if isinstance(template, list):
        return [fill_template(item, data, context) for item in template]
    return template


# --------------------------------------------------------------------------- choices


def _rule_matches(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    if "And" in rule:
        return all(_rule_matches(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(_rule_matches(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not _rule_matches(rule["Not"], data, context)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise StatesError("States.Runtime", "a choice rule needs a Variable")
    if "IsPresent" in rule:
        return _has_path(data, variable, context) == bool(rule["IsPresent"])
    if not _has_path(data, variable, context):
        return False  # as on AWS, comparing a missing field is an error; treat it as no match
    value = read_path(data, variable, context)
    if "IsNull" in rule:
        return (value is None) == bool(rule["IsNull"])
    for name, compare in _COMPARATORS.items():
        if name in rule:
            return bool(compare(value, rule[name]))
        if name + "Path" in rule:
            return bool(compare(value, read_path(data, rule[name + "Path"], context)))
    raise StatesError("States.Runtime", f"unsupported choice rule {sorted(rule)}")


# --------------------------------------------------------------------------- running


def _matches(error: str, names: list[str]) -> bool:
    if "States.ALL" in names or error in names:
        return True
    return "States.TaskFailed" in names and error != "States.Timeout"


async def _report(progress: Progress | None, event: dict[str, Any]) -> None:
    if progress is None:
        return
    outcome = progress(event)
    if inspect.isawaitable(outcome):
        await outcome


async def _call_task(
    state: Mapping[str, Any], parameters: Any, invoke: Invoke
) -> dict[str, Any] | Any:
    resource = state["Resource"]
    if not isinstance(parameters, dict):
        raise StatesError("States.Runtime", "a task's Parameters must be an object")
    if resource == LAMBDA_INVOKE:
        function = parameters.get("FunctionName")
        if not isinstance(function, str) or not function:
            raise StatesError("States.Runtime", "lambda:invoke needs Parameters.FunctionName")
        payload = parameters.get("Payload", {})
        result = await invoke(function, payload if isinstance(payload, dict) else {})
        return {"Payload": result, "StatusCode": 200}
    # SageMaker training job, run locally through the same step function.
    image = str(parameters.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
    hyper = parameters.get("HyperParameters", {})
    if not image or not isinstance(hyper, dict):
        raise StatesError("States.Runtime", "createTrainingJob needs a TrainingImage")
    started = time.time()
    result = await invoke(image, {"step": "train", **hyper})
    return {
        "TrainingJobName": parameters.get("TrainingJobName"),
        "TrainingJobStatus": "Completed",
        "HyperParameters": hyper,
        "TrainingStartTime": started,
        "TrainingEndTime": time.time(),
        "FinalMetricDataList": [
            {"MetricName": k, "Value": v}
            for k, v in (result.get("metrics") or {}).items()
            if _number(v)
        ],
    }


async def run_workflow(
    definition: Mapping[str, Any],
    execution_input: Any,
    *,
    invoke: Invoke,
    progress: Progress | None = None,
    sleep: Sleep = asyncio.sleep,
    name: str = "local",
    max_transitions: int = MAX_TRANSITIONS,
) -> ExecutionResult:
    """Run a checked definition (`load_definition`) to its end; never raises for errors inside
    the run: they end it `FAILED` with the States Language error and cause."""
    _check(definition)
    states: Mapping[str, Any] = definition["States"]
    current: str = definition["StartAt"]
    data: Any = deepcopy(execution_input)
    records: list[StateRecord] = []
    context: dict[str, Any] = {"Execution": {"Input": deepcopy(execution_input), "Name": name}}
    for _ in range(max_transitions):
        state = states[current]
        kind = state["Type"]
        context["State"] = {"Name": current, "RetryCount": 0}
        started = time.perf_counter()
        await _report(progress, {"state": current, "type": kind, "status": "entered"})
        record = StateRecord(name=current, type=kind, status="succeeded")
        records.append(record)
        try:
            input_path = state.get("InputPath", "$")
            effective = {} if input_path is None else read_path(data, input_path, context)
            if kind == "Succeed":
                output = _output(effective, state, context)
                await _finish(progress, record, started)
                return ExecutionResult(status="SUCCEEDED", output=output, states=records)
            if kind == "Fail":
                error = state.get("Error", "States.Fail")
                cause = state.get("Cause", "")
                if "ErrorPath" in state:
                    error = str(read_path(data, state["ErrorPath"], context))
                if "CausePath" in state:
                    cause = str(read_path(data, state["CausePath"], context))
                record.status, record.error, record.cause = "failed", error, cause
                await _finish(progress, record, started)
                return ExecutionResult(status="FAILED", error=error, cause=cause, states=records)
            if kind == "Choice":
                target = next(
                    (
                        c["Next"]
                        for c in state.get("Choices", [])
                        if _rule_matches(c, effective, context)
                    ),
                    state.get("Default"),
                )
                if target is None:
                    raise StatesError("States.NoChoiceMatched", f"in state {current!r}")
                data = _output(effective, state, context)
                await _finish(progress, record, started)
                current = target
                continue
            if kind == "Pass":
                result = state.get("Result", effective)
                if "Parameters" in state:
                    result = fill_template(state["Parameters"], effective, context)
            elif kind == "Wait":
                seconds = float(state.get("Seconds", 0))
                await sleep(min(max(seconds, 0.0), MAX_WAIT_S))
                result = effective
            else:  # Task
                result, caught = await _run_task(
                    state,
                    effective,
                    context,
                    invoke=invoke,
                    sleep=sleep,
                    record=record,
                    progress=progress,
                )
                if caught is not None:
                    target, error_output = caught
                    data = write_path(data, caught_path(state, record), error_output)
                    record.status = "caught"
                    await _finish(progress, record, started)
                    current = target
                    continue
                if "ResultSelector" in state:
                    result = fill_template(state["ResultSelector"], result, context)
            data = write_path(effective, state.get("ResultPath", "$"), result)
            data = _output(data, state, context)
        except StatesError as exc:
            record.status, record.error, record.cause = "failed", exc.error, exc.cause
            await _finish(progress, record, started)
            return ExecutionResult(
                status="FAILED", error=exc.error, cause=exc.cause, states=records
            )
        await _finish(progress, record, started)
        if state.get("End") is True:
            return ExecutionResult(status="SUCCEEDED", output=data, states=records)
        current = state["Next"]
    return ExecutionResult(
        status="FAILED",
        error="States.Runtime",
        cause=f"more than {max_transitions} state transitions",
        states=records,
    )


def _output(data: Any, state: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    path = state.get("OutputPath", "$")
    return {} if path is None else read_path(data, path, context)


def caught_path(state: Mapping[str, Any], record: StateRecord) -> str | None:
    for catcher in state.get("Catch", []):
        if _matches(record.error or "", list(catcher.get("ErrorEquals", []))):
            path = catcher.get("ResultPath", "$")
            return None if path is None else str(path)
    return "$"


async def _finish(progress: Progress | None, record: StateRecord, started: float) -> None:
    record.seconds = round(time.perf_counter() - started, 3)
    event: dict[str, Any] = {
        "state": record.name,
        "type": record.type,
        "status": record.status,
        "attempts": record.attempts,
        "seconds": record.seconds,
    }
    if record.error:
        event.update(error=record.error, cause=record.cause)
    await _report(progress, event)


async def _run_task(
    state: Mapping[str, Any],
    effective: Any,
    context: dict[str, Any],
    *,
    invoke: Invoke,
    sleep: Sleep,
    record: StateRecord,
    progress: Progress | None,
) -> tuple[Any, tuple[str, dict[str, str]] | None]:
    """Run a task with its retriers; (result, None) or (None, (catcher's Next, error output)).
    An uncaught error is raised as `StatesError`."""
    parameters = fill_template(state.get("Parameters", effective), effective, context)
    timeout = state.get("TimeoutSeconds")
    retriers = [dict(r) for r in state.get("Retry", [])]
    attempts_by_retrier = [0] * len(retriers)
    attempt = 0
    while True:
        attempt += 1
        record.attempts = attempt
        context["State"]["RetryCount"] = attempt - 1
        try:
            call = _call_task(state, deepcopy(parameters), invoke)
            if timeout is not None:
                result = await asyncio.wait_for(call, timeout=float(timeout))
            else:
                result = await call
            record.error = record.cause = None
            return result, None
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            error, cause = "States.Timeout", f"no result within {timeout} s"
        except StatesError as exc:
            error, cause = exc.error, exc.cause
        except Exception as exc:
            error, cause = error_name(exc), str(exc)[:2000]
        record.error, record.cause = error, cause
        delay: float | None = None
        for index, retrier in enumerate(retriers):
            if not _matches(error, list(retrier.get("ErrorEquals", []))):
                continue
            # The first matching retrier decides; once spent, the error is not retried.
            if attempts_by_retrier[index] < int(retrier.get("MaxAttempts", 3)):
                delay = (
                    float(retrier.get("IntervalSeconds", 1))
                    * float(retrier.get("BackoffRate", 2.0)) ** attempts_by_retrier[index]
                )
                if "MaxDelaySeconds" in retrier:
                    delay = min(delay, float(retrier["MaxDelaySeconds"]))
                attempts_by_retrier[index] += 1
            break
        if delay is not None:
            await _report(
                progress,
                {
                    "state": record.name,
                    "type": record.type,
                    "status": "retrying",
                    "attempts": attempt,
                    "error": error,
                    "cause": cause[:300],
                    "delay_s": delay,
                },
            )
            await sleep(min(delay, MAX_WAIT_S))
            continue
        for catcher in state.get("Catch", []):
            if _matches(error, list(catcher.get("ErrorEquals", []))):
                return None, (catcher["Next"], {"Error": error, "Cause": cause})
        raise StatesError(error, cause)
