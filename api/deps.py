"""The web layer's seams: `Annotated` dependency aliases for the process's services, the caller
and their tenant, and the tenant-scoped lookups of path resources. Tests swap them with
`app.dependency_overrides`.

Resources named in a path are looked up in the caller's tenant *before* the role is checked, so a
credential of another tenant always gets 404, exactly as for a missing resource.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from core.auth import Principal, PrincipalRole, authenticate
from core.bootstrap import Services
from core.errors import Forbidden, NotFound, Unavailable
from core.logging import bind_log_context
from core.models import SessionState, Tenant
from core.sessions import check_session_access, origin_allowed


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        raise Unavailable("the service is starting")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(request: Request, services: ServicesDep) -> Principal:
    """The authenticated caller. Public credentials (widget key, session token) used from a
    browser origin the tenant does not allow are refused (403)."""
    principal, tenant = authenticate(
        tenants=services.tenants,
        secret=services.token_secret,
        authorization_header=request.headers.get("authorization"),
    )
    origin = request.headers.get("origin")
    allowed = origin_allowed(tenant=tenant, origin=origin)
    if allowed:
        request.state.cors_origin = origin
    if origin and not allowed and principal.role is not PrincipalRole.ADMIN:
        # The refusal itself is readable by that page, so a widget can tell the customer why.
        request.state.cors_origin = origin
        raise Forbidden(
            f"origin {origin!r} is not allowed for this tenant", code="origin_not_allowed"
        )
    request.state.tenant = tenant
    request.state.tenant_id = tenant.tenant_id
    request.state.session_id = principal.session_id
    bind_log_context(tenant=tenant.tenant_id, session=principal.session_id)
    return principal


AnyPrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_tenant(request: Request, principal: AnyPrincipalDep) -> Tenant:
    tenant: Tenant = request.state.tenant
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


def forbid_widget(principal: Principal, request: Request) -> None:
    """Widget keys may only open sessions: 403 elsewhere, and 404 on a route naming a
    resource (a session, document or job is out of a widget key's reach, like a missing one)."""
    if principal.role is PrincipalRole.WIDGET:
        if request.path_params:
            raise NotFound("not found")
        raise Forbidden("a widget key may only open sessions", code="widget_key_not_allowed")


def _require_admin(principal: Principal) -> None:
    if principal.role is not PrincipalRole.ADMIN:
        raise Forbidden("this needs the tenant's admin key", code="admin_required")


async def chatter(request: Request, principal: AnyPrincipalDep) -> Principal:
    """A session token or an admin key."""
    forbid_widget(principal, request)
    return principal


async def admin(principal: AnyPrincipalDep) -> Principal:
    _require_admin(principal)
    return principal


async def opener(principal: AnyPrincipalDep) -> Principal:
    """A widget key or an admin key (what may open a session)."""
    if principal.role is PrincipalRole.SESSION:
        raise Forbidden("a session token cannot open sessions", code="forbidden_role")
    return principal


PrincipalDep = Annotated[Principal, Depends(chatter)]
AdminDep = Annotated[Principal, Depends(admin)]
OpenerDep = Annotated[Principal, Depends(opener)]

SessionIdPath = Annotated[str, Path(min_length=1, max_length=128)]


async def scoped_session(
    session_id: SessionIdPath, principal: AnyPrincipalDep, services: ServicesDep
) -> SessionState:
    """The named session of the caller's tenant (and, for a session token, its own only)."""
    check_session_access(principal=principal, session_id=session_id)
    return services.sessions.require(tenant_id=principal.tenant_id, session_id=session_id)


async def chatter_session(
    request: Request,
    state: Annotated[SessionState, Depends(scoped_session)],
    principal: AnyPrincipalDep,
) -> SessionState:
    forbid_widget(principal, request)
    return state


async def admin_session(
    session_id: SessionIdPath, principal: AnyPrincipalDep, services: ServicesDep
) -> SessionState:
    """The named session of the caller's tenant, for its admin key only. Anyone else gets 404
    whether or not the session exists: a refusal must not tell that it does."""
    if principal.role is not PrincipalRole.ADMIN:
        raise NotFound(f"session {session_id!r} not found")
    return services.sessions.require(tenant_id=principal.tenant_id, session_id=session_id)


SessionDep = Annotated[SessionState, Depends(chatter_session)]
AdminSessionDep = Annotated[SessionState, Depends(admin_session)]


def client_address(request: Request) -> str | None:
    """The caller's network address as the server saw it (on Lambda: API Gateway's source IP,
    which Mangum passes on). Forwarded headers are not trusted: a client can write them."""
    return request.client.host if request.client else None


ClientDep = Annotated[str | None, Depends(client_address)]


def request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


RequestIdDep = Annotated[str | None, Depends(request_id)]
