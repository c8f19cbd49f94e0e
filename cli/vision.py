"""`lambdesk vision …`: train a tenant's image classifier, build the shared default model, and
classify image files with the tenant's current model (through the SkillInvoker, like the API).

    lambdesk vision train --tenant T --data DIR                  one sub-folder per class
    lambdesk vision train --tenant T --dataset cifar10 --data-dir DIR
    lambdesk vision train --tenant T --dataset digits|animal-mnist [--epochs N] [--width W]
    (and `lambdesk workflow run vision ...`: the same through the training workflow, preprocess
    → train → evaluate → publish-if-better, its States Language definition run here)
    lambdesk vision default [--force]       the model of tenants without one (digits)
    lambdesk vision classify --tenant T IMAGE... [--top K]
    lambdesk vision settings --tenant T [--responses FILE.yaml] [--threshold P]
                             [--blocked LABEL,...] [--moderation-threshold P]
                            images in chat (label → answer) and video moderation (blocked labels)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any

from cli.commands import CliError, _load_responses, _print_json, _say, _services, _tenant
from core.bootstrap import Services
from core.errors import LambdeskError

DATASETS = ("cifar10", "digits", "animal-mnist")


def add_parser(sub: Any) -> None:
    vision = sub.add_parser("vision", help="train and try the image classifier").add_subparsers(
        dest="command", required=True
    )
    train = vision.add_parser("train", help="train the tenant's image classifier (ResNet-18)")
    train.add_argument("--tenant", required=True)
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="folder with one sub-folder of images per class")
    source.add_argument("--dataset", choices=DATASETS, help="a packaged or standard data set")
    train.add_argument("--data-dir", help="--dataset cifar10: the cifar-10-batches-py folder")
    train.add_argument("--epochs", type=int, help="passes over the data (default: per data set)")
    train.add_argument("--width", type=int, help="channels of the first stage (64: the paper's)")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=vision_train)

    default = vision.add_parser("default", help="build the default model (digits), once")
    default.add_argument("--force", action="store_true", help="rebuild even if it exists")
    default.set_defaults(func=vision_default)

    classify = vision.add_parser("classify", help="classify image files (JSON lines)")
    classify.add_argument("--tenant", required=True)
    classify.add_argument("images", nargs="+", metavar="IMAGE")
    classify.add_argument("--top", type=int, default=3, help="labels per image (default 3)")
    classify.set_defaults(func=vision_classify)

    settings = vision.add_parser(
        "settings", help="answers to image labels in chat, and the labels video moderation flags"
    )
    settings.add_argument("--tenant", required=True)
    settings.add_argument(
        "--responses", help="YAML mapping of an image label to the bot's answer (replaces them)"
    )
    settings.add_argument(
        "--threshold", type=float, help="the least score a label needs to be answered (0-1)"
    )
    settings.add_argument(
        "--blocked", help="comma-separated labels a moderated video is flagged for ('' clears)"
    )
    settings.add_argument(
        "--moderation-threshold", type=float, help="the least score that flags a frame (0-1)"
    )
    settings.set_defaults(func=vision_settings)


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise CliError(f"--{name} must be at least 1")


def load_source(
    *, data: str | None, dataset: str | None, data_dir: str | None, size: int
) -> tuple[str, Any]:
    """(preset name, ImageSet) for the command-line source options."""
    from training.vision_data import (
        InvalidImageSet,
        load_animal_mnist,
        load_cifar10,
        load_digits_set,
        load_folder,
    )

    try:
        if data:
            return "folder", load_folder(Path(data), size=size, progress=True)
        if dataset == "cifar10":
            if not data_dir:
                raise CliError("--dataset cifar10 needs --data-dir (nothing is downloaded)")
            return "cifar10", load_cifar10(Path(data_dir), size=size)
        if data_dir:
            raise CliError("--data-dir goes with --dataset cifar10 only")
        if dataset == "digits":
            return "digits", load_digits_set(size=size)
        if dataset == "animal-mnist":
            return "animal-mnist", load_animal_mnist(size=size)
    except InvalidImageSet as exc:
        raise CliError(str(exc)) from exc
    raise CliError("give --data DIR or --dataset NAME")


def train_vision(
    services: Services,
    *,
    tenant_id: str,
    data: str | None,
    dataset: str | None,
    data_dir: str | None,
    epochs: int | None = None,
    width: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    from training.vision import config_for, train_vision_model
    from training.vision_data import InvalidImageSet

    _tenant(services, tenant_id)
    _positive("epochs", epochs)
    _positive("width", width)
    preset = "folder" if data else str(dataset)
    config = config_for(preset, epochs=epochs, width=width, seed=seed)
    _, images = load_source(data=data, dataset=dataset, data_dir=data_dir, size=config.input_size)
    try:
        result = train_vision_model(
            tenant_id=tenant_id, data=images, blobs=services.blobs, config=config
        )
    except InvalidImageSet as exc:
        raise CliError(str(exc)) from exc
    return result.model_dump(mode="json", exclude={"confusion"})


def vision_train(args: argparse.Namespace) -> int:
    services = _services()
    try:
        summary = train_vision(
            services,
            tenant_id=args.tenant,
            data=args.data,
            dataset=args.dataset,
            data_dir=args.data_dir,
            epochs=args.epochs,
            width=args.width,
            seed=args.seed,
        )
    finally:
        services.close()
    _print_json(summary)
    return 0


def vision_default(args: argparse.Namespace) -> int:
    from training.vision import build_default_model, default_model_dir

    services = _services()
    services.close()
    directory = default_model_dir(services.settings)
    if (directory / "meta.json").is_file() and not args.force:
        _say(f"the default vision model is ready in {directory} (built earlier; --force rebuilds)")
        return 0
    result = build_default_model(directory)
    _print_json(result.model_dump(mode="json", exclude={"confusion"}))
    return 0


def classify_files(
    services: Services, *, tenant_id: str, paths: list[str], top_k: int
) -> list[dict[str, Any]]:
    """One result (or error) per file, in order, through the vision skill."""
    _tenant(services, tenant_id)
    limit = services.settings.max_image_bytes

    async def run() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for raw in paths:
            path = Path(raw)
            if not path.is_file():
                rows.append({"file": raw, "error": "no such file"})
                continue
            if path.stat().st_size > limit:
                rows.append({"file": raw, "error": f"larger than {limit} bytes"})
                continue
            event = {
                "tenant_id": tenant_id,
                "image_b64": base64.b64encode(path.read_bytes()).decode("ascii"),
                "top_k": top_k,
            }
            try:
                result = await services.skills.invoke("vision", event, timeout=60.0)
            except LambdeskError as exc:
                rows.append({"file": raw, "error": exc.message})
                continue
            fault = result.get("fault")
            if isinstance(fault, dict):  # not an image, undecodable, too large: the file's fault
                rows.append({"file": raw, "error": str(fault.get("message", "refused"))})
                continue
            rows.append({"file": raw, **result})
        return rows

    return asyncio.run(run())


def vision_classify(args: argparse.Namespace) -> int:
    if not 1 <= args.top <= 20:
        raise CliError("--top must be 1-20")
    services = _services()
    try:
        rows = classify_files(services, tenant_id=args.tenant, paths=args.images, top_k=args.top)
    finally:
        services.close()
    for row in rows:
        print(json.dumps(row))
    failed = sum(1 for row in rows if "error" in row)
    if failed:
        print(f"{failed} of {len(rows)} images could not be classified", file=sys.stderr)
    return 1 if failed else 0


def _probability(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise CliError(f"--{name} must be between 0 and 1")


def update_image_settings(
    services: Services,
    *,
    tenant_id: str,
    responses: str | None = None,
    threshold: float | None = None,
    blocked: str | None = None,
    moderation_threshold: float | None = None,
) -> dict[str, Any]:
    """Change what was given, keep the rest; the tenant's image settings as they are now."""
    tenant = _tenant(services, tenant_id)
    _probability("threshold", threshold)
    _probability("moderation-threshold", moderation_threshold)
    update: dict[str, Any] = {}
    if responses is not None:
        update["image_responses"] = _load_responses(Path(responses))
    if threshold is not None:
        update["image_threshold"] = threshold
    if blocked is not None:
        update["blocked_labels"] = [label.strip() for label in blocked.split(",") if label.strip()]
    if moderation_threshold is not None:
        update["moderation_threshold"] = moderation_threshold
    if update:
        tenant = services.tenants.update_tenant(tenant.model_copy(update=update))
    return {
        "tenant_id": tenant.tenant_id,
        "image_responses": tenant.image_responses,
        "image_threshold": tenant.image_threshold,
        "blocked_labels": tenant.blocked_labels,
        "moderation_threshold": tenant.moderation_threshold,
    }


def vision_settings(args: argparse.Namespace) -> int:
    services = _services()
    try:
        shown = update_image_settings(
            services,
            tenant_id=args.tenant,
            responses=args.responses,
            threshold=args.threshold,
            blocked=args.blocked,
            moderation_threshold=args.moderation_threshold,
        )
    finally:
        services.close()
    _print_json(shown)
    return 0


def run_workflow_here(
    services: Services,
    *,
    tenant_id: str,
    data: str | None,
    dataset: str | None,
    data_dir: str | None,
    epochs: int | None = None,
    width: int | None = None,
    seed: int | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """The vision workflow's definition run here, its steps through the in-process invoker."""
    from training.vision import config_for
    from training.vision_workflow import PACKAGED, run_vision_workflow

    _tenant(services, tenant_id)
    _positive("epochs", epochs)
    _positive("width", width)
    if services.settings.backend != "local":
        raise CliError("workflow run needs the local backend (in-process steps)")
    preset = "folder" if data else str(dataset)
    overrides = {"epochs": epochs, "width": width, "seed": seed}
    images = None
    if preset not in PACKAGED:  # a folder or CIFAR-10 on this disk: stored for the run
        size = config_for(preset).input_size
        _, images = load_source(data=data, dataset=dataset, data_dir=data_dir, size=size)
    elif data_dir:
        raise CliError("--data-dir goes with --dataset cifar10 only")

    async def invoke(function: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await services.skills.invoke(function, payload, timeout=3600.0)

    def progress(event: dict[str, Any]) -> None:
        line = f"[{event['state']}] {event['status']}"
        if event["status"] not in ("entered", "retrying"):
            line += f" in {event.get('seconds', 0):.1f} s"
            if event.get("error"):
                line += f": {event['error']}: {str(event.get('cause'))[:200]}"
        _say(line)

    return asyncio.run(
        run_vision_workflow(
            tenant_id=tenant_id,
            blobs=services.blobs,
            invoke=invoke,
            dataset=preset,
            data=images,
            overrides=overrides,
            force=force,
            progress=progress,
        )
    )


def vision_workflow(args: argparse.Namespace) -> int:
    """`lambdesk workflow run vision`."""
    if bool(args.data) == bool(args.dataset):
        raise CliError("workflow run vision takes --dataset NAME or --data DIR")
    services = _services()
    try:
        outcome = run_workflow_here(
            services,
            tenant_id=args.tenant,
            data=args.data,
            dataset=args.dataset,
            data_dir=args.data_dir,
            epochs=args.epochs,
            width=args.width,
            force=args.force,
        )
    finally:
        services.close()
    _print_json(outcome)
    return 0 if outcome["status"] == "SUCCEEDED" else 1
