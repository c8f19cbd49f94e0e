"""Optional identity verification of widget users.

A business that knows who its customer is (signed in on its own site) can pass the customer's id
to the widget together with a signature its server computes:
`user_signature = hex HMAC-SHA256(identity_secret, user_id)`. The tenant's identity secret is
derived like the callback secret (`core.jobs.callback_secret`): hex HMAC-SHA256(token_secret,
"identity:" + tenant_id); `lambdesk tenants identity-secret <id>` prints it. A session opened
with a valid pair stores the verified id in its state; an unsigned or badly signed id is
ignored (never stored, never trusted).
"""

from __future__ import annotations

import hashlib
import hmac
import re

_HEX_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_USER_ID_CHARS = 256


def identity_secret(*, token_secret: bytes, tenant_id: str) -> str:
    """The tenant's identity signing secret: hex HMAC-SHA256(token_secret, "identity:" + tenant)."""
    return hmac.new(token_secret, f"identity:{tenant_id}".encode(), hashlib.sha256).hexdigest()


def sign_user_id(*, secret: str, user_id: str) -> str:
    """What the business's server computes for a user id (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified_user_id(
    *, token_secret: bytes, tenant_id: str, user_id: str | None, signature: str | None
) -> str | None:
    """`user_id` when `signature` is its valid signature for this tenant, else None."""
    if not user_id or not signature or len(user_id) > MAX_USER_ID_CHARS:
        return None
    if not _HEX_SIGNATURE.match(signature):
        return None
    secret = identity_secret(token_secret=token_secret, tenant_id=tenant_id)
    expected = sign_user_id(secret=secret, user_id=user_id)
    return user_id if hmac.compare_digest(expected, signature.lower()) else None
