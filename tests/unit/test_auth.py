"""API keys and session tokens: hashing, signing, tampering, expiry, the wrong tenant."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from core.auth import (
    PrincipalRole,
    generate_key,
    hash_key,
    issue_session_token,
    verify_session_token,
)
from core.errors import Unauthorized
from core.models import KeyRole, utcnow

SECRET = b"s" * 32


def test_keys_are_random_prefixed_and_hashed() -> None:
    admin, widget = generate_key(KeyRole.ADMIN), generate_key(KeyRole.WIDGET)
    assert admin.startswith("ldk_admin_") and widget.startswith("ldk_pub_")
    assert generate_key(KeyRole.ADMIN) != admin
    assert len(hash_key(admin)) == 64 and admin not in hash_key(admin)


def test_a_token_names_its_tenant_and_session() -> None:
    token, expires = issue_session_token(
        secret=SECRET, tenant_id="acme", session_id="s_1", ttl_s=60
    )
    assert token.startswith("ldk_st_") and expires > utcnow()
    principal = verify_session_token(secret=SECRET, token=token)
    assert principal.tenant_id == "acme"
    assert principal.session_id == "s_1"
    assert principal.role is PrincipalRole.SESSION


def test_an_expired_token_is_refused() -> None:
    token, _ = issue_session_token(secret=SECRET, tenant_id="acme", session_id="s_1", ttl_s=60)
    with pytest.raises(Unauthorized) as info:
        verify_session_token(secret=SECRET, token=token, now=utcnow() + timedelta(seconds=61))
    assert info.value.code == "token_expired"


def test_another_secret_is_refused() -> None:
    token, _ = issue_session_token(secret=SECRET, tenant_id="acme", session_id="s_1", ttl_s=60)
    with pytest.raises(Unauthorized):
        verify_session_token(secret=b"x" * 32, token=token)


def _reforge(token: str, **changes: object) -> str:
    payload, signature = token[len("ldk_st_") :].split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"ldk_st_{forged}.{signature}"


@pytest.mark.parametrize("changes", [{"t": "globex"}, {"s": "s_2"}, {"e": 4_000_000_000}])
def test_a_tampered_payload_is_refused(changes: dict[str, object]) -> None:
    token, _ = issue_session_token(secret=SECRET, tenant_id="acme", session_id="s_1", ttl_s=60)
    with pytest.raises(Unauthorized):
        verify_session_token(secret=SECRET, token=_reforge(token, **changes))


@pytest.mark.parametrize("token", ["ldk_st_", "ldk_st_abc", "ldk_st_.sig", "ldk_st_!!.??", "x"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        verify_session_token(secret=SECRET, token=token)
