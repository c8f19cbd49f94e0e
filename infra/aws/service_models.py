"""Trimmed botocore service models: a client's model with only the operations we call.

Creating a boto3 client parses its service's whole model (`service-2.json`, documentation
included). Lambda's is large and we call one operation of it (`Invoke`): parsing it was the
costliest single step of the API's cold start. `MODELS_DIR` holds, for each service in
`OPERATIONS`, the installed botocore's model cut down to those operations and the shapes they
reach, without documentation; `infra.aws.clients` puts `MODELS_DIR` first on botocore's data
path, so those clients load it, and every other file (endpoint rules, paginators, retries) still
comes from botocore. A service not listed here keeps botocore's own model.

After upgrading botocore, regenerate (`tests/unit/test_service_models.py` fails until then):

    .venv/bin/python -m infra.aws.service_models
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).with_name("service_models")
OPERATIONS: dict[str, tuple[str, ...]] = {"lambda": ("Invoke",)}
_DOC_KEYS = ("documentation", "deprecatedMessage")


def _strip_docs(value: Any, *, names: bool = False) -> Any:
    """`value` without documentation (`names`: a dict whose keys are member names, kept)."""
    if isinstance(value, dict):
        return {
            k: _strip_docs(v, names=k == "members" and not names)
            for k, v in value.items()
            if names or k not in _DOC_KEYS
        }
    if isinstance(value, list):
        return [_strip_docs(v) for v in value]
    return value


def _shape_refs(shape: dict[str, Any]) -> Iterable[str]:
    for member in shape.get("members", {}).values():
        yield member["shape"]
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]


def trimmed_model(service: str, operations: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """(api version, the installed botocore model of `service` with only `operations`)."""
    from botocore.loaders import Loader

    full: dict[str, Any] = Loader().load_service_model(service, "service-2")
    keep: set[str] = set()
    pending: list[str] = []
    chosen: dict[str, Any] = {}
    for name in operations:
        operation = full["operations"][name]
        chosen[name] = operation
        for key in ("input", "output"):
            if key in operation:
                pending.append(operation[key]["shape"])
        pending += [error["shape"] for error in operation.get("errors", [])]
    while pending:
        name = pending.pop()
        if name not in keep:
            keep.add(name)
            pending += list(_shape_refs(full["shapes"][name]))
    model = {
        "version": full.get("version", "2.0"),
        "metadata": full["metadata"],
        "operations": chosen,
        "shapes": {name: full["shapes"][name] for name in sorted(keep)},
    }
    return str(full["metadata"]["apiVersion"]), _strip_docs(model)


def model_path(service: str, api_version: str) -> Path:
    return MODELS_DIR / service / api_version / "service-2.json"


def write_models() -> list[Path]:
    written = []
    for service, operations in OPERATIONS.items():
        api_version, model = trimmed_model(service, operations)
        path = model_path(service, api_version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_models():
        print(written_path)
