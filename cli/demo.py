"""The demo tenant `demo-bank` (Northwind Bank): built once by `make run`, reused afterwards.

First run: create the tenant, train its intents on BANKING77 with the written responses in
`demo/responses.yaml`, index the Markdown pages of `demo/knowledge/`, and keep the demo's keys in
`<data>/demo-keys.json` (a local convenience: a real tenant's keys are shown once and never stored).
Later runs find that file and the trained model and only print the keys and a curl line to try.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from cli.commands import (
    DEMO_DIR,
    DEMO_TENANT,
    add_knowledge,
    create_tenant,
    train_intents,
)
from core.auth import create_tenant_keys
from core.bootstrap import Services

DEMO_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
# What "what can you do?" lists for the demo bank (a tenant setting; see `Tenant.topics`).
DEMO_TOPICS = [
    "Card delivery",
    "Lost or stolen cards",
    "Transfer fees",
    "Topping up",
    "Exchange rates",
    "Opening hours",
]


def _keys_path(services: Services) -> Path:
    return services.settings.resolved_data_dir / "demo-keys.json"


def _is_built(services: Services, keys_path: Path) -> bool:
    if not keys_path.exists() or services.tenants.find_tenant(tenant_id=DEMO_TENANT) is None:
        return False
    has_model = services.blobs.find(tenant_id=DEMO_TENANT, key="models/intent/CURRENT")
    has_index = services.blobs.find(tenant_id=DEMO_TENANT, key="knowledge/index/CURRENT")
    return has_model is not None and has_index is not None


def prepare_demo(
    services: Services, *, force: bool = False, base_url: str, as_env: bool = False
) -> dict[str, Any]:
    keys_path = _keys_path(services)
    if force or not _is_built(services, keys_path):
        keys = _build(services, keys_path)
    else:
        keys = json.loads(keys_path.read_text())
        print(f"demo tenant {DEMO_TENANT} is ready (built earlier).", file=sys.stderr)
    if as_env:
        print(f"export ADMIN_KEY={keys['admin_key']}\nexport WIDGET_KEY={keys['widget_key']}")
    else:
        _print_try(keys, base_url)
    return keys


def _build(services: Services, keys_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    print(f"Preparing the demo tenant {DEMO_TENANT} (first run only)...", file=sys.stderr)
    if services.tenants.find_tenant(tenant_id=DEMO_TENANT) is None:
        keys = create_tenant(
            services, tenant_id=DEMO_TENANT, name="Northwind Bank", allowed_origins=DEMO_ORIGINS
        )
    else:  # rebuilt, or built by an interrupted run whose keys were lost: issue fresh keys
        admin_key, widget_key = create_tenant_keys(tenants=services.tenants, tenant_id=DEMO_TENANT)
        keys = {"tenant_id": DEMO_TENANT, "admin_key": admin_key, "widget_key": widget_key}
    print("1/2 training intents on BANKING77...", file=sys.stderr)
    summary = train_intents(
        services,
        tenant_id=DEMO_TENANT,
        data=DEMO_DIR / "banking77" / "train.csv",
        responses=DEMO_DIR / "responses.yaml",
    )
    print(f"    {json.dumps(summary)}", file=sys.stderr)
    tenant = services.tenants.get_tenant(tenant_id=DEMO_TENANT)
    services.tenants.update_tenant(tenant.model_copy(update={"topics": DEMO_TOPICS}))
    print("2/2 indexing the knowledge base...", file=sys.stderr)
    add_knowledge(services, tenant_id=DEMO_TENANT, paths=[str(DEMO_DIR / "knowledge")])
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    keys_path.write_text(json.dumps(keys, indent=2))
    keys_path.chmod(0o600)
    print(f"demo ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return keys


def _print_try(keys: dict[str, Any], base_url: str) -> None:
    print(json.dumps(keys, indent=2))
    print(
        "\nTry it (once the server below says it is running):\n"
        f"  curl -s {base_url}/v1/chat -H 'Authorization: Bearer {keys['admin_key']}' "
        "-H 'Content-Type: application/json' "
        '-d \'{"text": "My card has not arrived yet"}\'\n',
        file=sys.stderr,
    )
