"""The real intent training definition (`training/workflows/intents.asl.json`) run by the local
interpreter: the steps in order, the runner choice, publish or keep, retries as defined, the
failure path leaving the live model untouched, and the training job runner's progress.

The preprocess and publish steps are the real ones over an in-memory blob store; train and
evaluate are fakes (no model is loaded here), held in a small fake function host."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.models import Job
from core.ports import SkillContext
from core.settings import Settings
from core.training_jobs import TrainingFailed, run_training_job
from core.workflow import ExecutionResult, run_workflow
from tests.memory_stores import MemoryBlobStore
from training import versions, workflow_steps
from training.workflows import local_definition

T = "bank-one"
CSV = "text,intent\n" + "".join(
    f"{intent} question number {i},{intent}\n" for intent in ("a", "b", "c") for i in range(10)
)


class Host:
    """Runs the real steps, except that `train` and `evaluate` are fakes: train stores a
    complete version without a model; evaluate reports `score` (and fails while `failures`
    says so). Every call is recorded."""

    def __init__(self, *, score: float = 0.9, train_failures: int = 0) -> None:
        self.blobs = MemoryBlobStore()
        self.ctx = SkillContext(blobs=self.blobs, settings=Settings(log_stdout=False))
        self.score = score
        self.train_failures = train_failures
        self.calls: list[tuple[str, str]] = []

    async def invoke(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((function, payload["step"]))
        step = payload["step"]
        if step == "train":
            if self.train_failures:
                self.train_failures -= 1
                raise RuntimeError("the training container ran out of memory")
            versions.write_version(
                tenant_id=payload["tenant_id"],
                blobs=self.blobs,
                kind="intent",
                version=payload["version"],
                files={},
                meta={"metrics": {}},
            )
            return {"version": payload["version"]}
        if step == "evaluate":
            live = versions.current_version(tenant_id=T, blobs=self.blobs, kind="intent")
            return {
                "candidate_score": self.score,
                "live_score": None if live is None else 0.8,
                "live_version": live,
                "report_key": "r",
                "candidate": {"accuracy": self.score},
                "live": None,
            }
        return workflow_steps.run(payload, self.ctx)

    def upload(self, data: str = CSV, run_id: str = "r1") -> dict[str, Any]:
        key = workflow_steps.run_key(run_id, "data.csv")
        self.blobs.put(tenant_id=T, key=key, data=data.encode())
        return {"tenant_id": T, "run_id": run_id, "data_key": key, "mode": "frozen", "force": False}


class NoSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(
    host: Host, data: dict[str, Any], *, runner: str = "lambda", sleep: NoSleep | None = None
) -> ExecutionResult:
    return asyncio.run(
        run_workflow(
            local_definition("intents", runner=runner),
            data,
            invoke=host.invoke,
            sleep=sleep or NoSleep(),
        )
    )


def live(host: Host) -> str | None:
    return versions.current_version(tenant_id=T, blobs=host.blobs, kind="intent")


def test_the_steps_run_in_order_and_the_first_model_is_published() -> None:
    host = Host()
    result = run(host, host.upload())
    assert result.succeeded
    assert [r.name for r in result.states][-1] == "Published"
    assert host.calls == [
        ("train", "preprocess"),
        ("train", "train"),
        ("train", "evaluate"),
        ("train", "publish"),
    ]
    assert live(host) == result.output["preprocess"]["result"]["version"]
    split = result.output["preprocess"]["result"]
    assert split["n_intents"] == 3 and split["n_heldout"] > 0


def test_a_worse_candidate_keeps_the_live_version() -> None:
    host = Host(score=0.9)
    first = run(host, host.upload(run_id="r1"))
    host.score = 0.5  # below the live version's 0.8
    second = run(host, host.upload(run_id="r2"))
    assert second.succeeded
    assert second.states[-1].name == "KeptLiveVersion"
    assert live(host) == first.output["preprocess"]["result"]["version"]


def test_force_publishes_a_worse_candidate() -> None:
    host = Host(score=0.9)
    run(host, host.upload(run_id="r1"))
    host.score = 0.5
    data = host.upload(run_id="r2") | {"force": True}
    second = run(host, data)
    assert live(host) == second.output["preprocess"]["result"]["version"]


def test_the_gpu_runner_trains_through_the_training_job_state() -> None:
    host = Host()
    result = run(host, host.upload(), runner="sagemaker")
    assert result.succeeded
    names = [r.name for r in result.states]
    assert "TrainOnGpu" in names and "Train" not in names
    assert ("train", "train") in host.calls


def test_a_failing_train_step_is_retried_as_defined_then_fails_leaving_the_live_model() -> None:
    host = Host(score=0.9)
    first = run(host, host.upload(run_id="r1"))
    before = live(host)
    assert before == first.output["preprocess"]["result"]["version"]
    host.train_failures = 10
    sleep = NoSleep()
    result = run(host, host.upload(run_id="r2"), sleep=sleep)
    assert result.status == "FAILED"
    assert (result.error, result.cause) == (
        "RuntimeError",
        "the training container ran out of memory",
    )
    trains = [c for c in host.calls if c[1] == "train"]
    assert len(trains) == 1 + 2  # the first run's, then 1 + MaxAttempts (1) of States.TaskFailed
    assert sleep.delays == [10.0]
    assert [r.name for r in result.states][-2:] == ["Train", "Failed"]
    assert ("train", "publish") not in host.calls[5:]
    assert live(host) == before


def test_a_transient_failure_is_retried_and_the_run_goes_on() -> None:
    host = Host(train_failures=1)
    result = run(host, host.upload())
    assert result.succeeded
    assert next(r for r in result.states if r.name == "Train").attempts == 2


def test_bad_data_fails_at_once_without_retries() -> None:
    host = Host()
    result = run(host, host.upload(data="text,intent\nonly one intent here,a\n"))
    assert result.status == "FAILED" and result.error == "InvalidExamples"
    assert host.calls == [("train", "preprocess")]
    assert live(host) is None


def _job(data_key: str, **payload: Any) -> Job:
    return Job(
        job_id="j_1",
        tenant_id=T,
        kind="intent_training",
        payload={"data_key": data_key, "mode": "frozen", **payload},
    )


def test_the_training_job_runner_records_progress_per_state() -> None:
    host = Host()
    data = host.upload(run_id="j_1")
    seen: list[dict[str, Any]] = []
    result = asyncio.run(
        run_training_job(
            _job(data["data_key"]),
            definition=local_definition("intents"),
            invoke=host.invoke,
            progress=seen.append,
            sleep=NoSleep(),
        )
    )
    assert result["published"] is True
    assert result["version"] == live(host)
    assert [s["state"] for s in result["states"]] == [
        "Configure",
        "Preprocess",
        "ChooseTrainRunner",
        "Train",
        "Evaluate",
        "PublishIfBetter",
        "WasPublished",
        "Published",
    ]
    assert all(s["status"] == "succeeded" for s in result["states"])
    assert seen[0]["states"] == [{"state": "Configure", "status": "running", "attempts": 1}]
    assert len(seen) == 2 * len(result["states"])


def test_a_failed_run_is_a_permanent_job_error() -> None:
    host = Host(train_failures=10)
    data = host.upload(run_id="j_1")
    with pytest.raises(TrainingFailed) as failure:
        asyncio.run(
            run_training_job(
                _job(data["data_key"]),
                definition=local_definition("intents"),
                invoke=host.invoke,
                sleep=NoSleep(),
            )
        )
    assert failure.value.error == "RuntimeError"
    assert failure.value.status == 422
    assert live(host) is None


def test_a_job_without_data_is_refused() -> None:
    with pytest.raises(TrainingFailed):
        asyncio.run(
            run_training_job(
                Job(job_id="j_2", tenant_id=T, kind="intent_training", payload={}),
                definition=local_definition("intents"),
                invoke=Host().invoke,
            )
        )
