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
