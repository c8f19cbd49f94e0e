"""RateLimitStore contract: counts per key and window, over every backend."""

from __future__ import annotations

from core.ports import RateLimitStore


def test_requests_within_the_limit_pass_and_the_next_one_waits(
    rate_limit_store: RateLimitStore,
) -> None:
    key = "open:acme:k1:203.0.113.7"
    now = 1_800_001_200.0  # a fixed instant, 1,200 s into its hour-long window
    answers = [rate_limit_store.hit(key=key, limit=3, window_s=3600, now=now) for _ in range(4)]
    assert answers == [None, None, None, 2400.0]
    # the next window starts afresh
    assert rate_limit_store.hit(key=key, limit=3, window_s=3600, now=now + 2400) is None


def test_keys_count_apart(rate_limit_store: RateLimitStore) -> None:
    now = 1_800_000_000.0
    assert rate_limit_store.hit(key="a", limit=1, window_s=3600, now=now) is None
    assert rate_limit_store.hit(key="b", limit=1, window_s=3600, now=now) is None
    assert rate_limit_store.hit(key="a", limit=1, window_s=3600, now=now) is not None
