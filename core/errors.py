"""Domain errors. Each carries the HTTP status and the stable `code` the API puts in
`{"error": {"code", "message"}}`; services raise them, `api.errors` turns them into responses."""

from __future__ import annotations


class LambdeskError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequest(LambdeskError):
    status = 400
    code = "bad_request"


class Unauthorized(LambdeskError):
    status = 401
    code = "unauthorized"


class Forbidden(LambdeskError):
    status = 403
    code = "forbidden"


class NotFound(LambdeskError):
    """Missing, or owned by another tenant: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"


class Conflict(LambdeskError):
    status = 409
    code = "conflict"


class PayloadTooLarge(LambdeskError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(LambdeskError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(LambdeskError):
    status = 422
    code = "unprocessable"


class RateLimited(LambdeskError):
    """Too many requests; `retry_after` (seconds) goes out as the `Retry-After` header."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float = 60) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after + 0.999))


class Unavailable(LambdeskError):
    status = 503
    code = "unavailable"


class VersionConflict(Conflict):
    """An optimistic write lost a race (the stored version moved); callers re-read and retry."""

    code = "version_conflict"


class IdempotencyLost(Conflict):
    """Another request took this `Idempotency-Key` over (this one's lease ran out): its turn was
    not stored; the other request answers it."""

    code = "idempotency_in_progress"


class SkillError(LambdeskError):
    """A skill failed (raised, returned an error, or was throttled)."""

    status = 503
    code = "skill_error"

    def __init__(self, skill: str, message: str) -> None:
        super().__init__(f"{skill}: {message}")
        self.skill = skill


class SkillTimeout(SkillError):
    code = "skill_timeout"
