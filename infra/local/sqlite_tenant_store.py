"""SQLite backend of `TenantStore`: tenants and their hashed API keys in the local database.

Models are stored as JSON (`model_dump_json()`) beside the columns used for lookups.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.errors import Conflict
from core.models import ApiKey, Tenant
from core.ports import TenantStore
from infra.local.sqlite_database import SqliteDatabase, to_epoch

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant_id, created_at)
"""


class SqliteTenantStore(TenantStore):
    """Tenants and API keys in `db_path` (shared with the other local stores)."""

    def __init__(self, db_path: Path) -> None:
        self.db = SqliteDatabase(db_path)
        self.db.execute_script(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _create_tenant(self, tenant: Tenant) -> None:
        try:
            self.db.connection().execute(
                "INSERT INTO tenants (tenant_id, data) VALUES (?, ?)",
                (tenant.tenant_id, tenant.model_dump_json()),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"tenant {tenant.tenant_id!r} already exists") from None

    def _put_tenant(self, tenant: Tenant) -> None:
        self.db.connection().execute(
            "INSERT INTO tenants (tenant_id, data) VALUES (?, ?) "
            "ON CONFLICT (tenant_id) DO UPDATE SET data = excluded.data",
            (tenant.tenant_id, tenant.model_dump_json()),
        )

    def _get_tenant(self, tenant_id: str) -> Tenant | None:
        row = (
            self.db.connection()
            .execute("SELECT data FROM tenants WHERE tenant_id = ?", (tenant_id,))
            .fetchone()
        )
        return None if row is None else Tenant.model_validate_json(row[0])

    def _list_tenants(self) -> list[Tenant]:
        rows = self.db.connection().execute("SELECT data FROM tenants ORDER BY tenant_id")
        return [Tenant.model_validate_json(data) for (data,) in rows]

    def _put_key(self, key: ApiKey) -> None:
        self.db.connection().execute(
            "INSERT INTO api_keys (key_hash, tenant_id, created_at, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key_hash) DO UPDATE SET tenant_id = excluded.tenant_id, "
            "created_at = excluded.created_at, data = excluded.data",
            (key.key_hash, key.tenant_id, to_epoch(key.created_at), key.model_dump_json()),
        )

    def _get_key(self, key_hash: str) -> ApiKey | None:
        row = (
            self.db.connection()
            .execute("SELECT data FROM api_keys WHERE key_hash = ?", (key_hash,))
            .fetchone()
        )
        return None if row is None else ApiKey.model_validate_json(row[0])

    def _list_keys(self, tenant_id: str) -> list[ApiKey]:
        rows = self.db.connection().execute(
            "SELECT data FROM api_keys WHERE tenant_id = ? ORDER BY created_at, key_hash",
            (tenant_id,),
        )
        return [ApiKey.model_validate_json(data) for (data,) in rows]
