"""A real server process killed (`kill -9`) in the middle of a burst of idempotent chat turns,
then started again over the same data: every retried request succeeds, each turn is stored
exactly once, and a request answered before the crash gets the same answer again.

Without claim leases, every key interrupted by the crash answered `409 idempotency_in_progress`
for a day. The server here runs the real skills over a tenant with no model yet (they answer
at once, no model loads), with a short idempotency lease so the retries take over quickly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TURNS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "LAMBDESK_DATA_DIR": str(data_dir),
            "LAMBDESK_WARMUP": "false",
            "LAMBDESK_LOG_STDOUT": "false",
            "LAMBDESK_IDEMPOTENCY_LEASE_S": "2",
            "LAMBDESK_TURNS_PER_MINUTE": "100000",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "data")
    yield running
    running.stop()


def _turn(url: str, admin: str, session_id: str, i: int) -> httpx.Response:
    return httpx.post(
        url + "/v1/chat",
        headers={"Authorization": f"Bearer {admin}", "Idempotency-Key": f"turn-{i}"},
        json={"session_id": session_id, "text": f"message number {i}"},
        timeout=30,
    )


def test_a_killed_server_loses_no_turn_and_duplicates_none(server: Server) -> None:
    keys = json.loads(server.cli("tenants", "create", "acme"))
    admin = keys["admin_key"]
    server.start()
    opened = httpx.post(
        server.url + "/v1/sessions", headers={"Authorization": f"Bearer {admin}"}, json={}
    )
    session_id = opened.json()["session_id"]

    acknowledged: dict[int, dict[str, Any]] = {}

    def burst(i: int) -> None:
        try:
            response = _turn(server.url, admin, session_id, i)
        except httpx.HTTPError:
            return  # the server died under this request
        if response.status_code == 200:
            acknowledged[i] = response.json()

    threads = [threading.Thread(target=burst, args=(i,)) for i in range(TURNS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < TURNS // 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()  # mid-burst: some turns answered, some in flight, some not started
    for thread in threads:
        thread.join(timeout=60)

    server.start()
    replies: dict[int, dict[str, Any]] = {}
    for i in range(TURNS):
        deadline = time.monotonic() + 60
        while True:
            response = _turn(server.url, admin, session_id, i)
            if response.status_code == 200:
                replies[i] = response.json()
                break
            assert response.status_code == 409, response.text
            assert response.json()["error"]["code"] == "idempotency_in_progress"
            assert time.monotonic() < deadline, "a retried key never recovered"
            time.sleep(min(float(response.headers["Retry-After"]), 2.0))

    for i, before in acknowledged.items():  # answered before the crash: the same answer again
        assert replies[i]["message_id"] == before["message_id"]
    history: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(
            f"{server.url}/v1/sessions/{session_id}/messages",
            headers={"Authorization": f"Bearer {admin}"},
            params=params,
        ).json()
        history.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    user_texts = [m["text"] for m in history if m["role"] == "user"]
    assert sorted(user_texts) == sorted(f"message number {i}" for i in range(TURNS))
    bot_ids = {m["message_id"] for m in history if m["role"] == "bot"}
    assert {r["message_id"] for r in replies.values()} == bot_ids
