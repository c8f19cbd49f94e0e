"""Signed job callbacks: the tenant's signing secret, the signature, and the body a callback
carries. Sending them is an adapter's work (`CallbackSender` in `core.ports`).

When a job ends and has a `callback_url`, its public view (`core.jobs.job_view`) is POSTed there,
signed: `X-Lambdesk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
`X-Lambdesk-Timestamp: <unix seconds>`, where the tenant's callback secret is
`callback_secret(token_secret, tenant_id)` = hex HMAC-SHA256(token_secret, "callback:" + tenant)
(an operator hands it to the tenant with `lambdesk tenants callback-secret`; it never travels
over the wire).
"""

from __future__ import annotations

import hashlib
import hmac


def callback_secret(*, token_secret: bytes, tenant_id: str) -> str:
    """The tenant's callback signing secret: hex HMAC-SHA256(token_secret, "callback:" + tenant)."""
    return hmac.new(token_secret, f"callback:{tenant_id}".encode(), hashlib.sha256).hexdigest()


def sign_callback(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_callback(*, secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    expected = sign_callback(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


# --------------------------------------------------------------------------- where they may go

MAX_CALLBACK_URL = 2000


def is_public_address(address: str) -> bool:
    """Whether an IP address (v4 or v6, any textual form `ipaddress` reads) is a public unicast
    address: not loopback, private, link-local, multicast, reserved, unspecified, shared
    (100.64/10), nor such an address wrapped in IPv6 (mapped, 6to4, Teredo)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return bool(
        ip.is_global
        and not (
            ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
    )


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, the default port left out."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    port = parts.port
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def check_callback_url(url: str, *, allowed_origins: list[str], allow_insecure: bool) -> str:
    """The callback URL when it may be used, else `BadRequest` saying why. Checked here: https
    (http only with `allow_insecure`, for local development), a host and no credentials in the
    URL, the tenant's registered callback origins (when it has any), and an address written into
    the URL must be public. Names are resolved and checked again when the callback is sent
    (`infra.http.callback_sender`), which connects only to an address it checked."""
    from urllib.parse import urlsplit

    from core.errors import BadRequest

    def refuse(why: str) -> BadRequest:
        return BadRequest(f"X-Callback-Url refused: {why}", code="bad_callback_url")

    if len(url) > MAX_CALLBACK_URL or not url.isascii() or any(c.isspace() for c in url):
        raise refuse("not a plain https URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse("not a valid URL") from exc
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme.lower() not in schemes:
        raise refuse("only https URLs are accepted")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise refuse("the URL needs a host and no credentials")
    if port == 0:
        raise refuse("port 0")
    if allowed_origins and origin_of(url) not in {origin_of(o) for o in allowed_origins}:
        raise refuse("not one of the tenant's registered callback origins")
    host = parts.hostname
    literal = _looks_numeric(host) or host == "localhost" or host.endswith(".localhost")
    if not allow_insecure and literal and not is_public_address(host):
        raise refuse("the address is not public")
    return url


def _looks_numeric(host: str) -> bool:
    """An address literal, in any of the forms resolvers accept (`2130706433`, `127.1`,
    `0x7f.1`, `[::1]`): anything that is not a DNS name."""
    return ":" in host or all(part.isalnum() and not part.isalpha() for part in host.split("."))
