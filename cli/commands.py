"""The `lambdesk` commands. Each builds the services for the configured backend, calls service
functions, and prints JSON (machine-readable) or short progress lines (human-readable, stderr)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.bootstrap import Services, build_services
from core.errors import LambdeskError
from core.models import Tenant

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "demo"
DEMO_TENANT = "demo-bank"
KNOWLEDGE_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm"}


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _services() -> Services:
    try:
        return build_services()
    except ValueError as exc:  # settings validation: names the missing variable
        raise CliError(str(exc)) from exc


def _tenant(services: Services, tenant_id: str) -> Tenant:
    try:
        return services.tenants.get_tenant(tenant_id=tenant_id)
    except LambdeskError as exc:
        raise CliError(
            f"{exc.message} (create it with: lambdesk tenants create {tenant_id})"
        ) from exc


# --------------------------------------------------------------------------- tenants


def create_tenant(
    services: Services, *, tenant_id: str, name: str, allowed_origins: list[str]
) -> dict[str, str]:
    from core.auth import create_tenant_with_keys

    try:
        tenant = Tenant(
            tenant_id=tenant_id, name=name or tenant_id, allowed_origins=allowed_origins
        )
    except ValidationError as exc:
        raise CliError("; ".join(str(e["msg"]) for e in exc.errors())) from exc
    try:
        created, admin_key, widget_key = create_tenant_with_keys(
            tenants=services.tenants, tenant=tenant
        )
    except LambdeskError as exc:
        raise CliError(exc.message) from exc
    return {"tenant_id": created.tenant_id, "admin_key": admin_key, "widget_key": widget_key}


def tenants_create(args: argparse.Namespace) -> int:
    services = _services()
    keys = create_tenant(
        services,
        tenant_id=args.tenant_id,
        name=args.name,
        allowed_origins=args.allowed_origins,
    )
    _print_json(keys)
    _say("Keys are shown once and stored only as hashes: keep them now.")
    return 0


def tenants_list(args: argparse.Namespace) -> int:
    services = _services()
    for tenant in services.tenants.list_tenants():
        print(
            json.dumps(
                {
                    "tenant_id": tenant.tenant_id,
                    "name": tenant.name,
                    "allowed_origins": tenant.allowed_origins,
                    "intents_with_responses": len(tenant.responses),
                    "created_at": tenant.created_at.isoformat(),
                }
            )
        )
    return 0


def tenants_callback_secret(args: argparse.Namespace) -> int:
    from core.callbacks import callback_secret

    services = _services()
    _tenant(services, args.tenant_id)
    print(callback_secret(token_secret=services.token_secret, tenant_id=args.tenant_id))
    return 0


def tenants_identity_secret(args: argparse.Namespace) -> int:
    from core.identity import identity_secret

    services = _services()
    _tenant(services, args.tenant_id)
    print(identity_secret(token_secret=services.token_secret, tenant_id=args.tenant_id))
    return 0


def tenants_small_talk(args: argparse.Namespace) -> int:
    from core.dialogue_acts import ACTS

    services = _services()
    tenant = _tenant(services, args.tenant_id)
    responses = dict(tenant.act_responses)
    for act, text in args.response:
        if act not in ACTS:
            raise CliError(f"unknown act {act!r} (acts: {', '.join(ACTS)})")
        if text.strip():
            responses[act] = text.strip()
        else:
            responses.pop(act, None)
    update: dict[str, Any] = {"act_responses": responses}
    if args.topics is not None:
        update["topics"] = [t.strip() for t in args.topics if t.strip()]
    if args.language is not None:
        update["language"] = args.language or None
    try:
        changed = Tenant.model_validate({**tenant.model_dump(), **update})
    except ValidationError as exc:
        raise CliError("; ".join(str(e["msg"]) for e in exc.errors())) from exc
    services.tenants.update_tenant(changed)
    _print_json(
        {
            "tenant_id": changed.tenant_id,
            "language": changed.language,
            "act_responses": changed.act_responses,
            "topics": changed.topics,
        }
    )
    return 0


# --------------------------------------------------------------------------- intents


def _load_responses(path: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read responses {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise CliError(f"{path}: expected a mapping of intent name to answer text")
    return {k: v.strip() for k, v in data.items()}


def train_intents(
    services: Services, *, tenant_id: str, data: Path, responses: Path | None
) -> dict[str, Any]:
    from training.intents import default_negatives, load_examples, train_intent_model

    tenant = _tenant(services, tenant_id)
    if not data.is_file():
        raise CliError(f"no such file: {data}")
    answers = _load_responses(responses) if responses else None
    try:
        examples = load_examples(data)
    except (ValueError, KeyError) as exc:
        raise CliError(f"{data}: {exc}") from exc
    started = time.perf_counter()
    result = train_intent_model(
        tenant_id=tenant_id,
        examples=examples,
        blobs=services.blobs,
        progress=True,
        negatives=default_negatives(),
    )
    seconds = time.perf_counter() - started
    if answers is not None:
        unknown = sorted(set(answers) - set(result.labels))
        if unknown:
            _say(f"warning: responses for intents not in the data are ignored: {unknown}")
        merged = {**tenant.responses, **{k: v for k, v in answers.items() if k in result.labels}}
        services.tenants.update_tenant(tenant.model_copy(update={"responses": merged}))
    summary = result.model_dump(mode="json", exclude={"labels"})
    summary["intents"] = len(result.labels)
    summary["total_seconds"] = round(seconds, 1)  # including loading the encoder
    return summary


def intents_train(args: argparse.Namespace) -> int:
    services = _services()
    summary = train_intents(
        services,
        tenant_id=args.tenant,
        data=Path(args.data),
        responses=Path(args.responses) if args.responses else None,
    )
    _print_json(summary)
    return 0


def intents_predict(args: argparse.Namespace) -> int:
    from training.intents import OUT_OF_SCOPE, predict_intents

    services = _services()
    _tenant(services, args.tenant)
    path = Path(args.data)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "text" not in rows[0]:
        raise CliError(f"{path}: expected a CSV with a 'text' column")
    texts = [row["text"] for row in rows]
    labels = [row.get("intent") or row.get("category") for row in rows]
    predictions = predict_intents(tenant_id=args.tenant, texts=texts, blobs=services.blobs)
    correct = 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for text, label, (intent, confidence) in zip(texts, labels, predictions, strict=True):
            handle.write(
                json.dumps({"text": text, "intent": intent, "confidence": round(confidence, 4)})
                + "\n"
            )
            correct += int(label is not None and label == intent)
    report: dict[str, Any] = {"rows": len(rows), "out": str(out)}
    if all(labels):
        report["accuracy"] = round(correct / len(rows), 4)
        report["rejected"] = sum(1 for intent, _ in predictions if intent == OUT_OF_SCOPE)
    _print_json(report)
    return 0


# --------------------------------------------------------------------------- knowledge


def _knowledge_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix.lower() in KNOWLEDGE_SUFFIXES)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"no such file or folder: {path}")
    return files


def add_knowledge(services: Services, *, tenant_id: str, paths: list[str]) -> list[dict[str, Any]]:
    from knowledge.documents import add_document

    _tenant(services, tenant_id)
    files = _knowledge_files(paths)
    if not files:
        raise CliError("no documents found (accepted: .md, .txt, .html)")

    async def run() -> list[dict[str, Any]]:
        added = []
        for number, path in enumerate(files, 1):
            content_type = mimetypes.guess_type(path.name)[0] or "text/plain"
            if path.suffix.lower() in {".md", ".markdown"}:
                content_type = "text/markdown"
            info = await add_document(
                tenant_id=tenant_id,
                filename=path.name,
                content_type=content_type,
                data=path.read_bytes(),
                blobs=services.blobs,
                skills=services.skills,
                max_bytes=services.settings.max_document_bytes,
                timeout=services.settings.index_timeout_s,
            )
            _say(f"[{number}/{len(files)}] {path.name}: {info.chunks} chunks ({info.doc_id})")
            added.append(info.model_dump(mode="json"))
        return added

    try:
        return asyncio.run(run())
    except LambdeskError as exc:
        raise CliError(exc.message) from exc


def knowledge_add(args: argparse.Namespace) -> int:
    services = _services()
    try:
        _print_json(add_knowledge(services, tenant_id=args.tenant, paths=args.paths))
    finally:
        services.close()
    return 0


# --------------------------------------------------------------------------- voice


def say(args: argparse.Namespace) -> int:
    """Speak a sentence into a file (for trying voice messages), through the tts skill."""
    import base64

    from core.skill_contracts import SpeakEvent, SpeakResult

    formats = ("wav", "ogg", "mp3")
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in formats:
        raise CliError(f"--out must end in one of: {', '.join('.' + f for f in formats)}")
    if not args.text.strip():
        raise CliError("say needs some text")
    services = _services()
    try:
        spoken = asyncio.run(
            services.skills.call(
                "tts",
                SpeakEvent(tenant_id="cli", text=args.text, format=fmt),
                SpeakResult,
                timeout=services.settings.tts_timeout_s,
            )
        )
    except LambdeskError as exc:
        raise CliError(exc.message) from exc
    finally:
        services.close()
    out.write_bytes(base64.b64decode(spoken.audio_b64 or ""))
    _say(f"wrote {out} ({spoken.duration_s} s of speech)")
    return 0


# --------------------------------------------------------------------------- serve


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from core.logging import configure_logging

    configure_logging()
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        access_log=False,  # the app writes one JSON access line per request itself
        log_config=None,
    )
    return 0


# --------------------------------------------------------------------------- demo


def demo(args: argparse.Namespace) -> int:
    from cli.demo import prepare_demo

    services = _services()
    try:
        prepare_demo(services, force=args.force, base_url=args.base_url, as_env=args.env)
    finally:
        services.close()
    return 0
