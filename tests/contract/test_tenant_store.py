"""TenantStore contract: tenants (create, get, conflict, update, list) and hashed API keys
(add, look up, revoke, list), over every backend."""

from __future__ import annotations

import hashlib

import pytest

from core.errors import Conflict, NotFound
from core.models import ApiKey, KeyRole, Tenant
from core.ports import TenantStore


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_create_then_get_returns_the_same_settings(tenant_store: TenantStore) -> None:
    tenant = Tenant(
        tenant_id="acme",
        name="Acme Ltd",
        allowed_origins=["https://acme.example"],
        intent_threshold=0.7,
        responses={"greeting": "Hello from Acme"},
    )
    tenant_store.create_tenant(tenant)

    stored = tenant_store.get_tenant(tenant_id="acme")

    assert stored == tenant
    assert tenant_store.find_tenant(tenant_id="acme") == tenant


def test_missing_tenant_is_not_found(tenant_store: TenantStore) -> None:
    with pytest.raises(NotFound):
        tenant_store.get_tenant(tenant_id="nobody")
    assert tenant_store.find_tenant(tenant_id="nobody") is None


def test_creating_a_taken_id_conflicts_and_keeps_the_first(tenant_store: TenantStore) -> None:
    tenant_store.create_tenant(Tenant(tenant_id="acme", name="first"))

    with pytest.raises(Conflict):
        tenant_store.create_tenant(Tenant(tenant_id="acme", name="second"))

    assert tenant_store.get_tenant(tenant_id="acme").name == "first"


def test_update_replaces_settings_only_for_existing_tenants(tenant_store: TenantStore) -> None:
    tenant_store.create_tenant(Tenant(tenant_id="acme", name="Acme"))

    tenant_store.update_tenant(Tenant(tenant_id="acme", name="Acme 2", handoff_after=5))

    stored = tenant_store.get_tenant(tenant_id="acme")
    assert (stored.name, stored.handoff_after) == ("Acme 2", 5)
    with pytest.raises(NotFound):
        tenant_store.update_tenant(Tenant(tenant_id="ghost"))
    assert tenant_store.find_tenant(tenant_id="ghost") is None


def test_list_tenants_is_sorted_by_id(tenant_store: TenantStore) -> None:
    for tenant_id in ("zeta", "acme", "mid-co"):
        tenant_store.create_tenant(Tenant(tenant_id=tenant_id))

    assert [t.tenant_id for t in tenant_store.list_tenants()] == ["acme", "mid-co", "zeta"]


def test_keys_are_found_by_hash_and_listed_per_tenant(tenant_store: TenantStore) -> None:
    tenant_store.create_tenant(Tenant(tenant_id="acme"))
    tenant_store.create_tenant(Tenant(tenant_id="globex"))
    admin = ApiKey(key_hash=_hash("ldk_admin_a"), tenant_id="acme", role=KeyRole.ADMIN)
    widget = ApiKey(key_hash=_hash("ldk_pub_a"), tenant_id="acme", role=KeyRole.WIDGET)
    other = ApiKey(key_hash=_hash("ldk_admin_g"), tenant_id="globex", role=KeyRole.ADMIN)
    for key in (admin, widget, other):
        tenant_store.add_key(key)

    found = tenant_store.get_key(key_hash=_hash("ldk_pub_a"))

    assert found == widget
    assert tenant_store.get_key(key_hash=_hash("ldk_unknown")) is None
    assert {k.key_hash for k in tenant_store.list_keys(tenant_id="acme")} == {
        admin.key_hash,
        widget.key_hash,
    }
    assert tenant_store.list_keys(tenant_id="globex") == [other]


def test_a_key_for_a_missing_tenant_is_refused(tenant_store: TenantStore) -> None:
    key = ApiKey(key_hash=_hash("x"), tenant_id="ghost", role=KeyRole.ADMIN)

    with pytest.raises(NotFound):
        tenant_store.add_key(key)

    assert tenant_store.get_key(key_hash=key.key_hash) is None


def test_revoked_keys_no_longer_authenticate(tenant_store: TenantStore) -> None:
    tenant_store.create_tenant(Tenant(tenant_id="acme"))
    key = ApiKey(key_hash=_hash("ldk_admin_a"), tenant_id="acme", role=KeyRole.ADMIN)
    tenant_store.add_key(key)

    tenant_store.revoke_key(tenant_id="acme", key_hash=key.key_hash)

    assert tenant_store.get_key(key_hash=key.key_hash) is None
    listed = tenant_store.list_keys(tenant_id="acme")
    assert [(k.key_hash, k.revoked) for k in listed] == [(key.key_hash, True)]


def test_a_tenant_cannot_revoke_another_tenants_key(tenant_store: TenantStore) -> None:
    tenant_store.create_tenant(Tenant(tenant_id="acme"))
    tenant_store.create_tenant(Tenant(tenant_id="globex"))
    key = ApiKey(key_hash=_hash("ldk_admin_g"), tenant_id="globex", role=KeyRole.ADMIN)
    tenant_store.add_key(key)

    with pytest.raises(NotFound):
        tenant_store.revoke_key(tenant_id="acme", key_hash=key.key_hash)

    assert tenant_store.get_key(key_hash=key.key_hash) == key
