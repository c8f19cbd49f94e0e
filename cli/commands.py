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
KNOWLEDGE_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}


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


def _read_examples(data: Path) -> list[Any]:
    from training.intents import load_examples

    if not data.is_file():
        raise CliError(f"no such file: {data}")
    try:
        return load_examples(data)
    except (ValueError, KeyError) as exc:
        raise CliError(f"{data}: {exc}") from exc


def train_intents(
    services: Services,
    *,
    tenant_id: str,
    data: Path,
    responses: Path | None,
    mode: str | None = None,
    force: bool = False,
    report: Path | None = None,
) -> dict[str, Any]:
    """Train a candidate version, report on its held-out rows, publish it only if it is at
    least as good as the live version (`force`: anyway)."""
    from training.intent_lifecycle import train_and_publish
    from training.intents import OUT_OF_SCOPE

    tenant = _tenant(services, tenant_id)
    answers = _load_responses(responses) if responses else None
    examples = _read_examples(data)
    mode = mode or tenant.intent_training_mode
    started = time.perf_counter()
    try:
        outcome = train_and_publish(
            tenant_id=tenant_id,
            examples=examples,
            blobs=services.blobs,
            mode=mode,
            force=force,
            report_dir=report,
            progress=True,
        )
    except LambdeskError as exc:
        raise CliError(exc.message) from exc
    seconds = time.perf_counter() - started
    labels = outcome["labels"]
    if answers is not None:
        unknown = sorted(set(answers) - set(labels))
        if unknown:
            _say(f"warning: responses for intents not in the data are ignored: {unknown}")
        merged = {**tenant.responses, **{k: v for k, v in answers.items() if k in labels}}
        services.tenants.update_tenant(tenant.model_copy(update={"responses": merged}))
    candidate = outcome["candidate"]
    heldout = outcome["heldout"] or {}
    decision = outcome["decision"]
    _say(
        f"{'published' if decision['published'] else 'not published'}: {decision['reason']}"
        + (f"; report in {report}" if report else "")
    )
    return {
        "version": candidate["version"],
        "mode": candidate["mode"],
        "published": decision["published"],
        "decision": decision["reason"],
        "intents": len(labels),
        "n_train": candidate["n_train"],
        "negatives_source": "examples"
        if any(e.intent == OUT_OF_SCOPE for e in examples)
        else "default",
        "rule": candidate["rule"],
        "threshold": candidate["threshold"],
        "encoder": candidate["encoder"],
        "heldout_accuracy": heldout.get("accuracy"),
        "heldout": heldout,
        "live_heldout": outcome["live_heldout"],
        "report": outcome["report"],
        "train_seconds": candidate["seconds"],
        "total_seconds": round(seconds, 1),  # including loading the encoder
    }


def intents_train(args: argparse.Namespace) -> int:
    services = _services()
    summary = train_intents(
        services,
        tenant_id=args.tenant,
        data=Path(args.data),
        responses=Path(args.responses) if args.responses else None,
        mode=args.mode,
        force=args.force,
        report=Path(args.report) if args.report else None,
    )
    _print_json(summary)
    return 0


def evaluate_intents(
    services: Services,
    *,
    tenant_id: str,
    data: Path,
    report: Path | None,
    version: str | None = None,
) -> dict[str, Any]:
    from training.intent_lifecycle import evaluate_version

    _tenant(services, tenant_id)
    examples = _read_examples(data)
    try:
        metrics = evaluate_version(
            tenant_id=tenant_id,
            blobs=services.blobs,
            rows=examples,
            version=version,
            report_dir=report,
        )
    except LambdeskError as exc:
        raise CliError(exc.message) from exc
    if metrics is None:
        raise CliError(f"tenant {tenant_id} has no intent model yet (lambdesk intents train)")
    return metrics.model_dump(mode="json")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def intents_eval(args: argparse.Namespace) -> int:
    services = _services()
    report = Path(args.report) if args.report else None
    metrics = evaluate_intents(
        services, tenant_id=args.tenant, data=Path(args.data), report=report, version=args.version
    )
    if args.json:
        _print_json(metrics)
        return 0
    lines = [
        f"rows              {metrics['n']}",
        f"accuracy          {_percent(metrics['accuracy'])}",
        f"macro-F1          {_percent(metrics['macro_f1'])}",
    ]
    oos = metrics.get("out_of_scope")
    if oos:
        lines += [
            f"out-of-scope rows {oos['n_out_of_scope']}",
            f"  recall          {_percent(oos['recall'])}",
            f"  precision       {_percent(oos['precision'])}",
            f"in-scope accuracy {_percent(oos['in_scope_accuracy'])} (wrong rejections count)",
        ]
    confused = metrics.get("confused") or []
    if confused:
        lines.append("most confused (true -> predicted: rows)")
        lines += [f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in confused[:5]]
    if report:
        lines.append(f"report            {report / 'report.html'}")
    print("\n".join(lines))
    return 0


def intents_versions(args: argparse.Namespace) -> int:
    from training.versions import list_versions

    services = _services()
    _tenant(services, args.tenant)
    for info in list_versions(tenant_id=args.tenant, blobs=services.blobs, kind="intent"):
        metrics = info.metrics
        evaluation = info.evaluation or {}
        print(
            json.dumps(
                {
                    "version": info.version,
                    "live": info.live,
                    "created_at": info.created_at,
                    "mode": metrics.get("mode", "frozen"),
                    "rule": metrics.get("rule", "max_prob"),
                    "encoder": metrics.get("encoder", "packaged"),
                    "heldout_accuracy": evaluation.get(
                        "candidate_score", metrics.get("heldout_accuracy")
                    ),
                    "live_score_then": evaluation.get("live_score"),
                    "published": evaluation.get("published"),
                    "decision": evaluation.get("reason"),
                }
            )
        )
    return 0


def intents_rollback(args: argparse.Namespace) -> int:
    from training.versions import current_version, rollback

    services = _services()
    _tenant(services, args.tenant)
    before = current_version(tenant_id=args.tenant, blobs=services.blobs, kind="intent")
    try:
        now = rollback(tenant_id=args.tenant, blobs=services.blobs, kind="intent", to=args.to)
    except LambdeskError as exc:
        raise CliError(exc.message) from exc
    _print_json({"tenant_id": args.tenant, "previous": before, "live": now})
    return 0


# --------------------------------------------------------------------------- workflows


def run_workflow_locally(
    services: Services,
    *,
    name: str,
    tenant_id: str,
    data: Path,
    mode: str | None,
    force: bool,
    runner: str,
) -> dict[str, Any]:
    """Run a training workflow's ASL definition here: the interpreter, and the steps called
    through the services's skill invoker under the name the definition gives them."""
    from core.workflow import run_workflow
    from training import workflow_steps
    from training.workflows import local_definition

    tenant = _tenant(services, tenant_id)
    if not data.is_file():
        raise CliError(f"no such file: {data}")
    try:
        definition = local_definition(name, runner=runner)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if services.settings.backend != "local":
        raise CliError("workflow run runs the steps here: use the local backend")
    run_id = workflow_steps.new_run_id()
    data_key = workflow_steps.run_key(run_id, "data.csv")
    services.blobs.put(tenant_id=tenant_id, key=data_key, data=data.read_bytes())

    async def invoke(function: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await services.skills.invoke(function, payload, timeout=3600.0)

    def progress(event: dict[str, Any]) -> None:
        status = event["status"]
        line = f"[{event['state']}] {status}"
        if status == "retrying":
            line += (
                f" after {event['error']} (attempt {event['attempts']}, in {event['delay_s']} s)"
            )
        elif status != "entered":
            line += f" in {event.get('seconds', 0):.1f} s"
            if event.get("error"):
                line += f": {event['error']}: {str(event.get('cause'))[:200]}"
        _say(line)

    execution = {
        "tenant_id": tenant_id,
        "run_id": run_id,
        "data_key": data_key,
        "mode": mode or tenant.intent_training_mode,
        "force": force,
    }
    result = asyncio.run(run_workflow(definition, execution, invoke=invoke, progress=progress))
    output = result.output if isinstance(result.output, dict) else {}
    return {
        "status": result.status,
        "error": result.error,
        "cause": result.cause,
        "run_id": run_id,
        "version": ((output.get("preprocess") or {}).get("result") or {}).get("version"),
        "evaluation": (output.get("evaluate") or {}).get("result"),
        "publication": (output.get("publish") or {}).get("result"),
        "states": [f"{r.name}: {r.status}" for r in result.states],
    }


def workflow_run(args: argparse.Namespace) -> int:
    if args.workflow == "vision":
        from cli.vision import vision_workflow

        return vision_workflow(args)
    if not args.data or args.dataset or args.data_dir:
        raise CliError("workflow run intents takes --data FILE.csv (and no --dataset)")
    services = _services()
    try:
        outcome = run_workflow_locally(
            services,
            name=args.workflow,
            tenant_id=args.tenant,
            data=Path(args.data),
            mode=args.mode,
            force=args.force,
            runner=args.runner,
        )
    finally:
        services.close()
    _print_json(outcome)
    return 0 if outcome["status"] == "SUCCEEDED" else 1


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
        raise CliError("no documents found (accepted: .md, .txt, .html, .pdf)")

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
                max_parse_seconds=services.settings.max_parse_seconds,
                max_pages=services.settings.max_pdf_pages,
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
