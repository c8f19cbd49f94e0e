"""The deployed packages hold what their code imports.

- The API zip is built as `make deploy-check` builds it (`osls package`), unzipped, and run in a
  clean interpreter whose path is only the unzipped package plus boto3 (what the Lambda runtime
  adds): every project module reachable from `api.lambda_handler` imports, function-local imports
  included, and one `POST /v1/voice` and one `GET /v1/jobs/{id}/audio` go through the Mangum
  handler against the local AWS endpoint, the asr, tts and voice functions answering from this
  process over the Lambda wire protocol.
- Each skill image's `COPY` lines cover every project module its handler reaches, and copy no
  development tool.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.auth import create_tenant_with_keys
from core.bootstrap import build_services
from core.models import Tenant
from core.ports import SkillContext
from core.settings import Settings
from tests.fakes import fake_registry
from tests.integration.aws.conftest import LocalAws, as_lambda, forget_entrypoints
from tests.integration.voice_fixtures import clip
from tests.reachability import ROOT, module_file, reachable

pytestmark = pytest.mark.slow

# What the Lambda python runtime provides besides the package: boto3 and its dependencies.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _lambda_python() -> tuple[str, str]:
    """(interpreter, version) to run the package with: Python 3.12 like the deployed runtime when
    this machine has it, else this interpreter (the package is then built for its version)."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for candidate in candidates:
        if (
            candidate
            and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0
        ):
            return candidate, "3.12"
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def api_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The API function's zip, built by osls and unzipped; and the interpreter to run it with."""
    python, version = _lambda_python()
    out = tmp_path_factory.mktemp("package")
    env = {
        **os.environ,
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_PYTHON_BIN": sys.executable,
        "LAMBDESK_PACKAGE_PYTHON": version,
    }
    built = subprocess.run(
        ["npx", "--no-install", "osls", "package", "--stage", "ci", "--package", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    unzipped = out / "api"
    with zipfile.ZipFile(out / "api.zip") as archive:
        archive.extractall(unzipped)
    yield unzipped, python


def _runtime_dir(tmp_path: Path) -> Path:
    """boto3 and its dependencies, linked from this environment (pure Python)."""
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        for found in (site / name, site / f"{name}.py"):
            if found.exists():
                (runtime / found.name).symlink_to(found)
    return runtime


def test_the_api_zip_holds_every_module_it_reaches_and_serves_voice(
    api_package: tuple[Path, str],
    aws_env: Settings,
    local_aws: LocalAws,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unzipped, python = api_package
    modules = sorted(reachable("api.lambda_handler"))
    missing = [m for m in modules if module_file(m, unzipped) is None]
    assert missing == [], f"not in the API zip: {missing}"
    # the training workflows' definitions (a training job runs one) are data beside their module
    shipped = {p.name for p in (unzipped / "training" / "workflows").glob("*.asl.json")}
    assert shipped == {p.name for p in (ROOT / "training" / "workflows").glob("*.asl.json")}
    assert not (unzipped / "devtools").exists() and not (unzipped / "skills").exists()
    # so are the trimmed botocore models its clients load (`infra.aws.service_models`)
    models = [p.relative_to(ROOT) for p in (ROOT / "infra/aws/service_models").rglob("*.json")]
    assert models and all((unzipped / m).is_file() for m in models)

    # The functions the API calls run here, from the source tree: the real asr and tts skills
    # and the voice job's entry; intent and retrieval are the fast fakes.
    monkeypatch.setenv("LAMBDESK_ASR_MODEL", "tiny.en")
    forget_entrypoints(local_aws)
    services = build_services(aws_env)
    for name, fn in fake_registry().items():
        local_aws.lambdas.register(name, as_lambda(fn, _skill_context(aws_env)))
    _, admin, _ = create_tenant_with_keys(
        tenants=services.tenants, tenant=Tenant(tenant_id="voice-co")
    )
    (tmp_path / "question.ogg").write_bytes(clip(0, "ogg"))

    env = {
        "PATH": os.environ.get("PATH", ""),
        **{k: v for k, v in os.environ.items() if k.startswith(("LAMBDESK_", "AWS_"))},
        "HF_HUB_OFFLINE": "1",
    }
    script = RUN_IN_LAMBDA.format(
        paths=json.dumps([str(unzipped), str(_runtime_dir(tmp_path))]),
        modules=json.dumps(modules),
        admin=admin,
        audio=str(tmp_path / "question.ogg"),
    )
    ran = subprocess.run(
        [python, "-I", "-S", "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report["imported"] == len(modules)
    assert "torch" not in report["loaded"] and "av" not in report["loaded"]
    assert report["voice_status"] in (200, 202), report
    assert report["job"]["status"] == "succeeded", report
    assert report["job"]["transcript"]
    assert report["audio_status"] == 200 and report["audio_type"] == "audio/ogg"
    assert report["audio_head"] == "OggS"
    assert report["wav_status"] == 200 and report["wav_head"] == "RIFF"
    local_aws.lambdas.drain()
    services.close()


def _skill_context(settings: Settings) -> SkillContext:
    from core.bootstrap import build_skill_context

    return build_skill_context(settings)


RUN_IN_LAMBDA = r"""
import base64, importlib, json, sys, time
sys.path[:0] = {paths}
modules = {modules}
for name in modules:
    importlib.import_module(name)
from api.lambda_handler import handler

def event(method, path, query="", body=b"", content_type="application/json"):
    return {{
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {{"authorization": "Bearer {admin}", "content-type": content_type}},
        "requestContext": {{
            "accountId": "000000000000", "apiId": "local", "domainName": "local",
            "domainPrefix": "local", "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {{"method": method, "path": path, "protocol": "HTTP/1.1",
                      "sourceIp": "203.0.113.9", "userAgent": "test"}},
        }},
        "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
    }}

def body_of(response):
    raw = response.get("body") or ""
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()

audio = open("{audio}", "rb").read()
posted = handler(event("POST", "/v1/voice", "wait=30", audio, "audio/ogg"), None)
job = json.loads(body_of(posted))
for _ in range(600):  # a busy machine: keep polling the job through the API
    if job.get("status") in ("succeeded", "failed") or "job_id" not in job:
        break
    time.sleep(0.2)
    job = json.loads(body_of(handler(event("GET", f"/v1/jobs/{{job['job_id']}}"), None)))
fetched = handler(event("GET", f"/v1/jobs/{{job.get('job_id')}}/audio"), None)
wav = handler(event("GET", f"/v1/jobs/{{job.get('job_id')}}/audio", "format=wav"), None)
print(json.dumps({{
    "imported": len(modules),
    "loaded": sorted({{m.split(".")[0] for m in sys.modules}}),
    "voice_status": posted["statusCode"],
    "job": job,
    "audio_status": fetched["statusCode"],
    "audio_type": fetched["headers"].get("content-type"),
    "audio_head": body_of(fetched)[:4].decode("latin-1"),
    "wav_status": wav["statusCode"],
    "wav_head": body_of(wav)[:4].decode("latin-1"),
}}))
"""


# --------------------------------------------------------------------------- skill images

_COPY = re.compile(r"^COPY\s+(?!--from)(.+?)\s+(\S+)\s*$")
_CMD = re.compile(r'^CMD\s+\["([\w.]+)\.handler"\]')
# A SageMaker training image runs a module instead of a Lambda handler.
_ENTRYPOINT = re.compile(r'^ENTRYPOINT\s+\["python",\s*"-m",\s*"([\w.]+)"\]')


def _image(dockerfile: Path) -> tuple[str, set[str]]:
    """(handler module, files of the repository copied into the final stage)."""
    final = dockerfile.read_text().split("\nFROM ")[-1]
    copied: set[str] = set()
    handler = ""
    for line in final.splitlines():
        if match := _COPY.match(line.strip()):
            for source in match.group(1).split():
                path = ROOT / source
                if path.is_dir():
                    copied.update(
                        str(p.relative_to(ROOT))
                        for p in path.rglob("*.py")
                        if "__pycache__" not in p.parts
                    )
                elif path.is_file():
                    copied.add(source)
        elif match := _CMD.match(line.strip()) or _ENTRYPOINT.match(line.strip()):
            handler = match.group(1)
    return handler, copied


@pytest.mark.parametrize(
    "dockerfile", sorted((ROOT / "infra" / "deploy").glob("*.Dockerfile")), ids=lambda p: p.stem
)
def test_each_skill_image_copies_every_module_its_handler_reaches(dockerfile: Path) -> None:
    handler, copied = _image(dockerfile)
    assert handler, f"{dockerfile.name} has no CMD handler"
    needed = {
        str(path.relative_to(ROOT))
        for module in reachable(handler)
        if (path := module_file(module)) is not None
    }
    assert needed - copied == set(), f"{dockerfile.name} lacks {sorted(needed - copied)}"
    assert not any(f.startswith(("devtools/", "tests/")) for f in copied)
