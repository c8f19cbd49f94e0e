"""Chat sessions: opening one (and its session token), origin checks for public credentials,
and the tenant-scoped lookup every session route goes through."""

from __future__ import annotations

from core.auth import Principal, PrincipalRole, issue_session_token
from core.errors import Forbidden, NotFound
from core.identity import verified_user_id
from core.ids import new_id
from core.models import Channel, SessionCreate, SessionCreated, SessionState, Tenant
from core.ports import HistoryStore


def origin_allowed(*, tenant: Tenant, origin: str | None) -> bool:
    """Whether a browser origin may use this tenant's public credentials (`*` allows any)."""
    if not origin:
        return False
    origin = origin.rstrip("/")
    return any(a == "*" or a.rstrip("/") == origin for a in tenant.allowed_origins)


def create_session_state(
    *,
    history: HistoryStore,
    tenant_id: str,
    channel: Channel = Channel.TEXT,
    origin: str | None = None,
    metadata: dict[str, object] | None = None,
    user_id: str | None = None,
) -> SessionState:
    """Store the state of a brand-new session (version 0). `user_id` must be verified already
    (`core.identity`): it is stored as the session's trusted `slots["user_id"]`."""
    slots: dict[str, object] = {"metadata": dict(metadata)} if metadata else {}
    if user_id:
        slots["user_id"] = user_id
    state = SessionState(
        tenant_id=tenant_id,
        session_id=new_id("s_"),
        channel=channel,
        origin=origin,
        slots=slots,
    )
    return history.put_state(state, expected_version=None)


def open_session(
    *,
    history: HistoryStore,
    tenant: Tenant,
    principal: Principal,
    secret: bytes,
    token_ttl_s: int,
    origin: str | None,
    request: SessionCreate | None = None,
) -> SessionCreated:
    """Open a session for a widget key (from an allowed origin only) or an admin key."""
    if principal.tenant_id != tenant.tenant_id:
        raise NotFound("tenant not found")
    if principal.role is PrincipalRole.WIDGET:
        if not origin_allowed(tenant=tenant, origin=origin):
            raise Forbidden("origin not allowed for this tenant", code="origin_not_allowed")
    elif principal.role is not PrincipalRole.ADMIN:
        raise Forbidden("a session token cannot open sessions", code="forbidden_role")
    request = request or SessionCreate()
    user_id = verified_user_id(
        token_secret=secret,
        tenant_id=tenant.tenant_id,
        user_id=request.user_id,
        signature=request.user_signature,
    )
    state = create_session_state(
        history=history,
        tenant_id=tenant.tenant_id,
        channel=request.channel,
        origin=origin,
        metadata=request.metadata,
        user_id=user_id,
    )
    token, expires_at = issue_session_token(
        secret=secret, tenant_id=tenant.tenant_id, session_id=state.session_id, ttl_s=token_ttl_s
    )
    return SessionCreated(
        session_id=state.session_id,
        session_token=token,
        expires_at=expires_at,
        greeting=tenant.greeting,
        user_verified=user_id is not None,
    )


def require_session(*, history: HistoryStore, tenant_id: str, session_id: str) -> SessionState:
    """The session's state; `NotFound` for an unknown session or another tenant's."""
    state = history.get_state(tenant_id=tenant_id, session_id=session_id)
    if state is None:
        raise NotFound(f"session {session_id!r} not found")
    return state


def check_session_access(*, principal: Principal, session_id: str) -> None:
    """A session token reaches its own session only (others look missing: 404)."""
    if principal.role is PrincipalRole.SESSION and principal.session_id != session_id:
        raise NotFound(f"session {session_id!r} not found")
