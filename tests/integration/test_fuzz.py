"""Schemathesis against the real server, from its own OpenAPI schema, three times: with the
tenant's admin key, with its public widget key (from an allowed `Origin`), and with a session
token. Any 5xx fails, and so does any answer the schema does not document (its status, its
content type, its body's shape, its headers).

The server is uvicorn on a free port over a temporary data dir with two tenants, the real local
stores, and the fast stand-in skills of `tests/fakes.py` (speech too, so the voice routes answer
without models). Its throttles are set high so the fuzzer meets the routes, not the limits. Path
parameters are drawn half the time from resources that exist (sessions, a finished voice job, a
document, a bot reply), so the fuzzer reaches past the 404s.

Bounded for CI: deterministic generation (every run sends the same cases) and a few examples
per operation and phase, about 700 requests a run. The totals (operations, examples, failures)
are printed and written to `.artifacts/fuzz/`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from core.auth import create_tenant_with_keys
from core.bootstrap import build_blob_store, build_services
from core.models import Tenant
from core.ports import SkillContext
from core.settings import Settings
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from skills.vision.model import save_model
from tests.fakes import fake_registry, silent_wav
from tests.vision_fixtures import colour_onnx, encode, solid

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "fuzz"
ORIGIN = "https://shop.acme.example"
MAX_EXAMPLES = 10  # per operation and phase: about 700 requests, under a minute a run
RUN_TIMEOUT_S = 400  # a hang guard (the example counts bound a run, not a clock)
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
HIGH = 1_000_000  # throttles out of the fuzzer's way


@dataclass
class FuzzTarget:
    """The running server and the resources the fuzzer is pointed at."""

    base_url: str
    admin_key: str
    widget_key: str
    session_token: str
    token_session_id: str
    admin_session_ids: list[str]
    disposable_session_ids: list[str]  # for the admin's DELETE /v1/sessions/{id} only
    message_ids: list[str]
    job_ids: list[str]
    doc_ids: list[str]
    image_names: list[str]
    totals: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a background thread cannot take signals
        pass


def _prepare(client: httpx.Client, admin: dict[str, str], widget: dict[str, str]) -> dict[str, Any]:
    """Sessions, turns, a finished voice job and a document, made through the API."""
    token_session = client.post("/v1/sessions", headers=widget, json={}).json()
    token = {"Authorization": f"Bearer {token_session['session_token']}", "Origin": ORIGIN}
    message_ids = []
    for text in ("What is your refund policy?", "When are you open?", "Something else"):
        reply = client.post(
            "/v1/chat",
            headers=token,
            json={"session_id": token_session["session_id"], "text": text},
        )
        assert reply.status_code == 200, reply.text
        message_ids.append(reply.json()["message_id"])
    admin_sessions = [
        client.post("/v1/sessions", headers=admin, json={}).json()["session_id"] for _ in range(6)
    ]
    reply = client.post(
        "/v1/chat", headers=admin, json={"session_id": admin_sessions[0], "text": "refund?"}
    )
    assert reply.status_code == 200, reply.text
    message_ids.append(reply.json()["message_id"])
    voice = client.post(
        "/v1/voice?wait=10",
        headers={**token, "Content-Type": "audio/wav"},
        content=silent_wav(),
    )
    assert voice.status_code == 200 and voice.json()["status"] == "succeeded", voice.text
    document = client.post(
        "/v1/knowledge/documents?filename=hours.md",
        headers={**admin, "Content-Type": "text/markdown"},
        content=b"# Opening hours\n\nWe are open Monday to Friday, 9am to 5pm.\n",
    )
    assert document.status_code == 201, document.text
    image = base64.b64encode(encode(solid((220, 30, 30), width=16, height=16), "PNG")).decode()
    pictured = client.post(
        "/v1/chat",
        headers=token,
        json={"session_id": token_session["session_id"], "text": "my card", "image_b64": image},
    )
    assert pictured.status_code == 200, pictured.text
    return {
        "token": token_session["session_token"],
        "token_session_id": token_session["session_id"],
        "admin_session_ids": admin_sessions[:3],
        "disposable_session_ids": admin_sessions[3:],
        "message_ids": message_ids,
        "job_ids": [voice.json()["job_id"]],
        "doc_ids": [document.json()["doc_id"]],
        "image_names": [pictured.json()["image"]["name"]],
    }


@contextlib.contextmanager
def serve_target(data_dir: Path) -> Iterator[FuzzTarget]:
    """The server over `data_dir`, with its tenants and resources, until the block ends."""
    settings = Settings(
        backend="local",
        data_dir=data_dir,
        log_stdout=False,
        warmup=False,
        turns_per_minute=HIGH,
        sessions_per_minute_per_client=HIGH,
        admin_turns_per_minute=HIGH,
    )
    invoker = InProcessSkillInvoker(
        SkillContext(blobs=build_blob_store(settings), settings=settings),
        workers=4,
        registry=fake_registry(speech=True),
    )
    services = build_services(settings, skills=invoker)
    onnx_bytes, meta = colour_onnx()  # the real vision skill, with a tiny model per tenant
    for tenant_id in ("acme", "globex"):
        save_model(
            tenant_id=tenant_id,
            blobs=services.blobs,
            version="v1",
            onnx_bytes=onnx_bytes,
            meta=meta,
        )
    _, admin_key, widget_key = create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(
            tenant_id="acme",
            name="Acme",
            allowed_origins=[ORIGIN],
            responses={"refund_policy": "Refunds within 30 days.", "opening_hours": "9 to 5."},
        ),
    )
    create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(
            tenant_id="globex", name="Globex", allowed_origins=["https://globex.example"]
        ),
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(
        uvicorn.Config(
            create_app(services),
            log_config=None,
            access_log=False,
            lifespan="on",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    base_url = f"http://127.0.0.1:{port}"
    admin = {"Authorization": f"Bearer {admin_key}"}
    widget = {"Authorization": f"Bearer {widget_key}", "Origin": ORIGIN}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        made = _prepare(client, admin, widget)
    running = FuzzTarget(
        base_url=base_url,
        admin_key=admin_key,
        widget_key=widget_key,
        session_token=made["token"],
        token_session_id=made["token_session_id"],
        admin_session_ids=made["admin_session_ids"],
        disposable_session_ids=made["disposable_session_ids"],
        message_ids=made["message_ids"],
        job_ids=made["job_ids"],
        doc_ids=made["doc_ids"],
        image_names=made["image_names"],
    )
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        services.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    with serve_target(tmp_path_factory.mktemp("fuzz") / "data") as running:
        yield running
        _write_totals(running.totals)


def _toml(value: Any) -> str:
    return json.dumps(value)  # TOML strings, numbers and arrays of them: JSON spells them alike


def _config(target: FuzzTarget, *, session_ids: list[str]) -> str:
    """A schemathesis.toml: the checks, the generation bounds, and real resources for the path
    parameters (the sessions `session_ids`; the admin's erasures get sessions of their own, so
    the sessions the other operations use stay)."""
    dictionaries = {
        "session_ids": session_ids,
        "disposable_session_ids": target.disposable_session_ids,
        "message_ids": target.message_ids,
        "job_ids": target.job_ids,
        "doc_ids": target.doc_ids,
        "image_names": target.image_names,
    }
    lines = [
        "workers = 1",
        "request-timeout = 30",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "deterministic = true",
        'database = "none"',
        "[checks]",
        "enabled = false",
        *(f"{name}.enabled = true" for name in CHECKS),
        "[parameters]",
        'session_id = { dictionary = "session_ids", probability = 0.5 }',
        'message_id = { dictionary = "message_ids", probability = 0.5 }',
        'job_id = { dictionary = "job_ids", probability = 0.5 }',
        'doc_id = { dictionary = "doc_ids", probability = 0.5 }',
        'name = { dictionary = "image_names", probability = 0.5 }',
    ]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}"]
    lines += [
        "[[operations]]",
        'include-path = "/v1/sessions/{session_id}"',
        'include-method = "DELETE"',
        "[operations.parameters]",
        'session_id = { dictionary = "disposable_session_ids", probability = 0.5 }',
    ]
    return "\n".join(lines) + "\n"


def _totals(report: dict[str, Any], seconds: float) -> dict[str, Any]:
    cases = report["test_cases"]
    return {
        "operations": report["operations"]["tested"],
        "examples": cases["generated"],
        "failures": cases["unique_failures"] + cases["errored"] + len(report["errors"]),
        "seconds": round(seconds, 1),
    }


def _write_totals(totals: dict[str, dict[str, Any]]) -> None:
    if not totals:
        return
    summary = {
        "operations": sum(t["operations"] for t in totals.values()),
        "examples": sum(t["examples"] for t in totals.values()),
        "failures": sum(t["failures"] for t in totals.values()),
        "seconds": round(sum(t["seconds"] for t in totals.values()), 1),
        "runs": totals,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "totals.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\nschemathesis totals:", json.dumps(summary))


def fuzz(
    target: FuzzTarget,
    workdir: Path,
    *,
    name: str,
    headers: dict[str, str],
    session_ids: list[str],
) -> tuple[dict[str, Any], str]:
    """One schemathesis run with `headers` on every request: (its JSON report, its output).
    The output and report are kept in `.artifacts/fuzz/<name>.*`."""
    config = workdir / "schemathesis.toml"
    config.write_text(_config(target, session_ids=session_ids))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report_path = ARTIFACTS / f"{name}.json"
    report_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{target.base_url}/openapi.json",
        "--report",
        "json",
        "--report-json-path",
        str(report_path),
        "--no-color",
        "--output-sanitize",
        "true",
        *(arg for key, value in headers.items() for arg in ("-H", f"{key}: {value}")),
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the {name} run hung (over {RUN_TIMEOUT_S} s)")
    output = done.stdout + done.stderr
    (ARTIFACTS / f"{name}.txt").write_text(output)
    assert report_path.exists(), output[-4000:]
    report: dict[str, Any] = json.loads(report_path.read_text())
    target.totals[name] = _totals(report, time.monotonic() - started)
    return report, output


def _credentials(target: FuzzTarget, credential: str) -> tuple[dict[str, str], list[str]]:
    """The headers of one credential, and the sessions its path parameters draw from."""
    if credential == "admin":
        return {"Authorization": f"Bearer {target.admin_key}"}, target.admin_session_ids
    key = target.widget_key if credential == "widget" else target.session_token
    return {"Authorization": f"Bearer {key}", "Origin": ORIGIN}, [target.token_session_id]


@pytest.mark.parametrize("credential", ["admin", "widget", "session"])
def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    target: FuzzTarget, tmp_path: Path, credential: str
) -> None:
    headers, session_ids = _credentials(target, credential)
    report, output = fuzz(
        target, tmp_path, name=credential, headers=headers, session_ids=session_ids
    )
    totals = target.totals[credential]
    print(f"\n{credential}: {json.dumps(totals)}")
    failures = output[output.find("FAILURES") :] if "FAILURES" in output else output[-4000:]
    assert report["exit_code"] == 0 and totals["failures"] == 0, failures[:12000]
    schema = httpx.get(f"{target.base_url}/openapi.json").json()
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert totals["operations"] == operations, output[-2000:]  # every operation was run
