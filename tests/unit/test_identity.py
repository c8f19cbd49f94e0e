"""Identity verification of widget users: the tenant's secret, signatures, and a session that
stores only a verified id."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from core.auth import Principal, PrincipalRole
from core.callbacks import callback_secret
from core.identity import identity_secret, sign_user_id, verified_user_id
from core.models import SessionCreate, Tenant
from core.sessions import SessionLocks, SessionService
from tests.memory_stores import MemoryHistoryStore

SECRET = b"token-secret"


def test_the_identity_secret_is_per_tenant_and_not_the_callback_secret() -> None:
    acme = identity_secret(token_secret=SECRET, tenant_id="acme")
    expected = hmac.new(SECRET, b"identity:acme", hashlib.sha256).hexdigest()
    assert acme == expected
    assert acme != identity_secret(token_secret=SECRET, tenant_id="globex")
    assert acme != callback_secret(token_secret=SECRET, tenant_id="acme")


def _signature(user_id: str, tenant_id: str = "acme") -> str:
    secret = identity_secret(token_secret=SECRET, tenant_id=tenant_id)
    return sign_user_id(secret=secret, user_id=user_id)


@pytest.mark.parametrize(
    ("user_id", "signature", "expected"),
    [
        ("cust-42", _signature("cust-42"), "cust-42"),
        ("cust-42", _signature("cust-42").upper(), "cust-42"),
        ("cust-42", None, None),  # unsigned
        ("cust-42", _signature("cust-43"), None),  # another user's signature
        ("cust-42", _signature("cust-42", tenant_id="globex"), None),  # another tenant's
        ("cust-42", "zz" * 32, None),  # not hex
        ("cust-42", _signature("cust-42")[:-2], None),  # truncated
        (None, _signature("cust-42"), None),
        ("x" * 300, _signature("x" * 300), None),  # over the length bound
    ],
)
def test_only_a_valid_signature_verifies(
    user_id: str | None, signature: str | None, expected: str | None
) -> None:
    found = verified_user_id(
        token_secret=SECRET, tenant_id="acme", user_id=user_id, signature=signature
    )
    assert found == expected


@pytest.mark.parametrize(
    ("signature", "verified"), [(_signature("cust-42"), True), ("ab" * 32, False), (None, False)]
)
def test_a_session_keeps_only_a_verified_user_id(signature: str | None, verified: bool) -> None:
    history = MemoryHistoryStore()
    tenant = Tenant(tenant_id="acme", allowed_origins=["https://acme.example"])
    sessions = SessionService(
        history=history, locks=SessionLocks(), token_secret=SECRET, token_ttl_s=60
    )
    created = sessions.open(
        tenant=tenant,
        principal=Principal(tenant_id="acme", role=PrincipalRole.WIDGET),
        origin="https://acme.example",
        request=SessionCreate(
            user_id="cust-42", user_signature=signature, metadata={"user_id": "spoofed"}
        ),
    )
    state = history.get_state(tenant_id="acme", session_id=created.session_id)
    assert state is not None
    assert created.user_verified is verified
    assert state.slots.get("user_id") == ("cust-42" if verified else None)
    assert state.slots["metadata"] == {"user_id": "spoofed"}  # metadata is never an identity
