"""Credentials: API keys (admin and public widget keys), signed session tokens, and
`authenticate()`, which turns an `Authorization` header into a `Principal`.

API keys are random (`ldk_admin_<random>`, `ldk_pub_<random>`), shown once, and stored only as
their SHA-256 hex digest (`ApiKey.key_hash`). Session tokens are not stored: a token is
`ldk_st_<payload>.<signature>` where the payload (base64url) names the tenant, the session and
the expiry, and the signature is HMAC-SHA256 over the payload with the deployment's token secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from core.errors import Unauthorized
from core.models import ApiKey, KeyRole, Tenant, utcnow
from core.ports import TenantStore

ADMIN_PREFIX = "ldk_admin_"
WIDGET_PREFIX = "ldk_pub_"
SESSION_TOKEN_PREFIX = "ldk_st_"


class PrincipalRole(StrEnum):
    ADMIN = "admin"
    WIDGET = "widget"
    SESSION = "session"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant comes from the credential alone."""

    tenant_id: str
    role: PrincipalRole
    session_id: str | None = None  # set for session tokens only
    key_id: str | None = None  # a short, stable id of the API key (rate limits); not the key

    @property
    def is_admin(self) -> bool:
        return self.role is PrincipalRole.ADMIN


# --------------------------------------------------------------------------- API keys


def hash_key(secret: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key(role: KeyRole) -> str:
    prefix = ADMIN_PREFIX if role == KeyRole.ADMIN else WIDGET_PREFIX
    return prefix + secrets.token_urlsafe(32)


def issue_key(*, tenants: TenantStore, tenant_id: str, role: KeyRole) -> str:
    """Create and store a new key for the tenant; returns the secret (the only time it exists)."""
    secret = generate_key(role)
    tenants.add_key(ApiKey(key_hash=hash_key(secret), tenant_id=tenant_id, role=role))
    return secret


def create_tenant_keys(*, tenants: TenantStore, tenant_id: str) -> tuple[str, str]:
    """A fresh admin key and widget key for an existing tenant: `(admin, widget)`."""
    admin = issue_key(tenants=tenants, tenant_id=tenant_id, role=KeyRole.ADMIN)
    widget = issue_key(tenants=tenants, tenant_id=tenant_id, role=KeyRole.WIDGET)
    return admin, widget


def create_tenant_with_keys(*, tenants: TenantStore, tenant: Tenant) -> tuple[Tenant, str, str]:
    """Store a new tenant with one admin key and one widget key: `(tenant, admin, widget)`."""
    stored = tenants.create_tenant(tenant)
    admin, widget = create_tenant_keys(tenants=tenants, tenant_id=stored.tenant_id)
    return stored, admin, widget


# --------------------------------------------------------------------------- session tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def issue_session_token(
    *, secret: bytes, tenant_id: str, session_id: str, ttl_s: int, now: datetime | None = None
) -> tuple[str, datetime]:
    """A signed token for one session of one tenant, and its expiry."""
    expires_at = (now or utcnow()) + timedelta(seconds=ttl_s)
    expiry = int(expires_at.timestamp())
    body = {"t": tenant_id, "s": session_id, "e": expiry}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    token = f"{SESSION_TOKEN_PREFIX}{payload}.{_sign(secret, payload)}"
    return token, datetime.fromtimestamp(expiry, UTC)


def verify_session_token(*, secret: bytes, token: str, now: datetime | None = None) -> Principal:
    """The session principal named by a valid, unexpired token; `Unauthorized` otherwise."""
    if not token.startswith(SESSION_TOKEN_PREFIX):
        raise Unauthorized("not a session token", code="invalid_token")
    payload, _, signature = token[len(SESSION_TOKEN_PREFIX) :].partition(".")
    if not payload or not signature:
        raise Unauthorized("malformed session token", code="invalid_token")
    if not hmac.compare_digest(
        _sign(secret, payload).encode(), signature.encode("utf-8", "replace")
    ):
        raise Unauthorized("invalid session token", code="invalid_token")
    try:
        body = json.loads(_unb64(payload))
        tenant_id, session_id, expiry = str(body["t"]), str(body["s"]), int(body["e"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("malformed session token", code="invalid_token") from exc
    if expiry <= (now or utcnow()).timestamp():
        raise Unauthorized("session token expired", code="token_expired")
    return Principal(tenant_id=tenant_id, role=PrincipalRole.SESSION, session_id=session_id)


# --------------------------------------------------------------------------- authenticate


MAX_CREDENTIAL_CHARS = 2048


def authenticate(
    *, tenants: TenantStore, secret: bytes, authorization_header: str | None
) -> tuple[Principal, Tenant]:
    """`Authorization: Bearer <credential>` → the caller and their tenant (read once);
    `Unauthorized` (401) when the header is missing or malformed, or the credential is unknown,
    revoked, expired or of a deleted tenant."""
    if not authorization_header:
        raise Unauthorized("missing Authorization header", code="missing_credentials")
    scheme, _, credential = authorization_header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized("expected 'Authorization: Bearer <key or token>'", code="bad_scheme")
    if not credential.isascii() or len(credential) > MAX_CREDENTIAL_CHARS:
        raise Unauthorized("unknown credential", code="invalid_key")
    if credential.startswith(SESSION_TOKEN_PREFIX):
        principal = verify_session_token(secret=secret, token=credential)
    elif credential.startswith((ADMIN_PREFIX, WIDGET_PREFIX)):
        key = tenants.get_key(key_hash=hash_key(credential))
        if key is None:
            raise Unauthorized("unknown or revoked API key", code="invalid_key")
        role = PrincipalRole.ADMIN if key.role == KeyRole.ADMIN else PrincipalRole.WIDGET
        principal = Principal(tenant_id=key.tenant_id, role=role, key_id=key.key_hash[:16])
    else:
        raise Unauthorized("unknown credential type", code="invalid_key")
    tenant = tenants.find_tenant(tenant_id=principal.tenant_id)
    if tenant is None:
        raise Unauthorized("tenant no longer exists", code="invalid_key")
    return principal, tenant
