"""Identifiers: monotonic ULIDs (sortable message and job ids) and random opaque ids."""

from __future__ import annotations

import os
import secrets
import threading
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_ulid() -> str:
    """A ULID that sorts after every ULID this process made before (monotonic within a ms)."""
    global _last_ms, _last_rand
    with _lock:
        ms = max(int(time.time() * 1000), _last_ms)
        if ms == _last_ms:
            rand = _last_rand + 1
            if rand >= 1 << 80:  # overflow within one millisecond: borrow the next one
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        _last_ms, _last_rand = ms, rand
        return _encode(ms, 10) + _encode(rand, 16)


def new_id(prefix: str = "") -> str:
    """A random URL-safe id, e.g. `new_id("s_")` for sessions."""
    return prefix + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
