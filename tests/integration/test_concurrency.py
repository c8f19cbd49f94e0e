"""Many concurrent turns: no server errors, every user message stored exactly once, and each
session's history in user/bot pairs, in order."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.integration.conftest import LiveApi

SESSIONS = 20
REQUESTS = 200


async def _fire(api: LiveApi, sessions: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as client:
        calls = [
            client.post(
                "/v1/chat",
                headers=api.token_headers(sessions[i % SESSIONS]),
                json={"text": f"message {i} about refund" if i % 3 else f"message {i}"},
            )
            for i in range(REQUESTS)
        ]
        return await asyncio.gather(*calls)


def test_concurrent_turns_are_stored_once_in_pairs(live_api: LiveApi) -> None:
    sessions = [live_api.open_session(live_api.acme) for _ in range(SESSIONS)]
    responses = asyncio.run(_fire(live_api, sessions))
    statuses = Counter(r.status_code for r in responses)
    assert all(code < 500 for code in statuses), statuses
    assert statuses[200] == REQUESTS, statuses

    sent = Counter(f"message {i}" for i in range(REQUESTS))
    stored: Counter[str] = Counter()
    for session in sessions:
        messages = live_api.messages(live_api.acme, session["session_id"])
        assert len(messages) == 2 * (REQUESTS // SESSIONS)
        roles = [m["role"] for m in messages]
        assert roles == ["user", "bot"] * (len(messages) // 2)
        ids = [m["message_id"] for m in messages]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        for message in messages[::2]:
            stored[message["text"].removesuffix(" about refund")] += 1
    assert stored == sent
