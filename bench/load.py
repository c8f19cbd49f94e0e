"""Load test: many customers chatting at once against a real `lambdesk serve` process, driven by
Locust from Python (headless, no web UI).

Each simulated customer opens a session with the tenant's widget key from an allowed origin (a
session token comes back), chats in it — every turn with its own `Idempotency-Key`, and on a
connection error, a 5xx, a 429 or `409 idempotency_in_progress` the same turn is sent again with
the same key until it is answered — reads its history, and now and then opens a new session
and goes on there. Beside them one client polls `GET /healthz` at a steady pace: the server's
floor, measured in the same run. Reported per request type: throughput, p50/p95/p99 and errors
(the retries of a turn are their own row). Afterwards every acknowledged turn is looked up
through the API: its text must be in its session's history exactly once, and the bot reply
that was acknowledged must be there too.

`--kill-restart` kills the server with SIGKILL halfway through and starts it again over the
same data on the same port; the turns cut off by the kill are retried with their keys, and the
run reports how many needed a retry and how many of those were answered in the end.

The server runs over a temporary data dir with one tenant and no model (every turn answers at
once with the fallback; no model loads), or with `--demo` over a copy of the demo data dir
(`lambdesk demo` builds it first; the real models answer). Its throttles are set high: this
measures the server, not its limits. The idempotency lease is `--lease` seconds (default 5, so
that keys a killed server held are taken over within the run; the deployment default is 30).
`--root PATH` (repeatable) runs the same scenario against the server of another checkout too
(with this interpreter), in the same invocation, and prints the ratios. The process exits 1
when this checkout's run loses, duplicates or fails to answer a turn.

    .venv/bin/python bench/load.py [--users 20] [--duration 30] [--kill-restart] [--demo]
        [--root OTHER_CHECKOUT ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, constant_pacing, task
from locust.env import Environment
from locust.exception import StopUser
from locust.stats import RequestStats

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "https://shop.load.example"
TENANT = "loadtest"
# Throttles out of the way (settings a baseline checkout does not know are ignored there).
HIGH_LIMITS = {
    "LAMBDESK_TURNS_PER_MINUTE": "1000000",
    "LAMBDESK_SESSIONS_PER_MINUTE_PER_CLIENT": "1000000",
    "LAMBDESK_ADMIN_TURNS_PER_MINUTE": "1000000",
}
CHAT, CHAT_RETRY = "POST /v1/chat", "POST /v1/chat (retry)"
OPEN, HISTORY, HEALTH = "POST /v1/sessions", "GET /v1/sessions/{id}/messages", "GET /healthz"
ROWS = (CHAT, CHAT_RETRY, OPEN, HISTORY, HEALTH)
QUESTIONS = (
    "What are your opening hours on Saturday?",
    "How do I reset my password?",
    "My card has not arrived yet",
    "Can I get a refund for my order?",
    "I want to change my address",
)


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python -m cli.main serve` of the checkout at `root` over `data_dir`, on one port that
    stays the same across restarts."""

    def __init__(
        self, root: Path, data_dir: Path, *, log: Path, lease_s: float, warmup: bool
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            **HIGH_LIMITS,
            "PYTHONPATH": str(root),
            "LAMBDESK_DATA_DIR": str(data_dir),
            "LAMBDESK_LOG_STDOUT": "false",
            "LAMBDESK_WARMUP": "true" if warmup else "false",
            "LAMBDESK_IDEMPOTENCY_LEASE_S": str(lease_s),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, timeout: float = 1800) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise SystemExit(f"lambdesk {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start(self, timeout: float = 180) -> float:
        """Start and wait until `/healthz` answers; the seconds that took."""
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve", "--port", str(self.port)],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited; see {self.log}")
            try:
                if get_json(f"{self.url}/healthz", {}, timeout=1)[0] == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            gevent.sleep(0.1)
        raise SystemExit(f"the server did not answer within {timeout} s; see {self.log}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def get_json(url: str, headers: dict[str, str], timeout: float = 30) -> tuple[int, Any]:
    """(status, JSON body) of a GET; imported here so that Locust patches sockets first."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"null")


# --------------------------------------------------------------------------- the customers


@dataclass
class Turn:
    key: str
    text: str
    bot_message_id: str


@dataclass
class Conversation:
    session_id: str
    token: str
    acknowledged: list[Turn] = field(default_factory=list)


@dataclass
class Ledger:
    """What the customers sent and what the server acknowledged, for the check afterwards."""

    widget_key: str
    origin: str
    retry_timeout_s: float
    conversations: list[Conversation] = field(default_factory=list)
    turns: int = 0  # chat turns started
    acknowledged: int = 0
    retried: int = 0  # turns that needed at least one retry
    retried_answered: int = 0  # ... and were answered in the end
    gave_up: int = 0  # turns never answered (retries ran out, or a final refusal)
    refusals: Counter[str] = field(default_factory=Counter)  # final non-retryable answers
    retry_causes: Counter[str] = field(default_factory=Counter)  # answers that led to a retry
    in_flight: int = 0  # turns being sent (or retried) now
    stopping: bool = False  # the load is over: no new task starts, turns in flight finish


LEDGER: Ledger | None = None  # the current run's (Locust builds the users itself)


def ledger() -> Ledger:
    """The current run's ledger; once the load is over, no new task starts."""
    assert LEDGER is not None
    if LEDGER.stopping:
        raise StopUser()
    return LEDGER


def _retry_wait(status: int, headers: Any, attempt: int) -> float | None:
    """Seconds to wait before sending a turn again, or None when its answer is final."""
    retryable = status == 0 or status >= 500 or status in (409, 429)
    if not retryable:
        return None
    backoff = min(2.0, 0.1 * 2**attempt)
    retry_after = headers.get("Retry-After") if headers else None
    if retry_after and str(retry_after).isdigit():
        return min(float(retry_after), backoff)
    return backoff


def _error_code(response: Any) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


class Customer(FastHttpUser):
    """Opens a session with the widget key, chats with its token, reads its history."""

    wait_time = between(0.05, 0.25)
    network_timeout = 60.0
    connection_timeout = 5.0
    numbers = itertools.count()

    def on_start(self) -> None:
        self.number = next(Customer.numbers)
        self.turn = 0
        self.conversation: Conversation | None = None
        self.open_session()

    def _token_headers(self, conversation: Conversation) -> dict[str, str]:
        return {"Authorization": f"Bearer {conversation.token}", "Origin": ledger().origin}

    @task(1)
    def open_session(self) -> None:
        run = ledger()
        headers = {"Authorization": f"Bearer {run.widget_key}", "Origin": run.origin}
        with self.client.post(
            "/v1/sessions", json={}, headers=headers, name=OPEN, catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return
            body = response.json()
        conversation = Conversation(body["session_id"], body["session_token"])
        run.conversations.append(conversation)
        self.conversation = conversation

    @task(8)
    def chat(self) -> None:
        conversation = self.conversation
        if conversation is None:
            self.open_session()
            return
        run = ledger()
        self.turn += 1
        key = uuid.uuid4().hex
        question = QUESTIONS[self.turn % len(QUESTIONS)]
        text = f"{question} (customer {self.number}, turn {self.turn})"
        body = {"session_id": conversation.session_id, "text": text}
        headers = {**self._token_headers(conversation), "Idempotency-Key": key}
        run.turns += 1
        run.in_flight += 1
        try:
            self._send_turn(run, conversation, body, headers)
        finally:
            run.in_flight -= 1

    def _send_turn(
        self,
        run: Ledger,
        conversation: Conversation,
        body: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        """Send a turn, and again with the same key until it is answered or the answer is
        final."""
        deadline = time.monotonic() + run.retry_timeout_s
        for attempt in itertools.count():
            name = CHAT if attempt == 0 else CHAT_RETRY
            with self.client.post(
                "/v1/chat", json=body, headers=headers, name=name, catch_response=True
            ) as response:
                status = response.status_code
                if status == 200:
                    reply = response.json()
                else:
                    response.failure(f"HTTP {status}")
            if attempt == 1:
                run.retried += 1
            if status == 200:
                turn = Turn(headers["Idempotency-Key"], body["text"], reply["message_id"])
                conversation.acknowledged.append(turn)
                run.acknowledged += 1
                run.retried_answered += attempt > 0
                return
            cause = "no connection" if status == 0 else f"HTTP {status}"
            if status == 409:
                cause += " " + _error_code(response)
            wait = _retry_wait(status, response.headers, attempt)
            if wait is None or time.monotonic() + wait > deadline:
                run.gave_up += 1
                run.refusals[cause] += 1
                return
            run.retry_causes[cause] += 1
            gevent.sleep(wait)

    @task(3)
    def history(self) -> None:
        conversation = self.conversation
        if conversation is None:
            return
        self.client.get(
            f"/v1/sessions/{conversation.session_id}/messages?limit=50",
            headers=self._token_headers(conversation),
            name=HISTORY,
        )


class HealthProbe(FastHttpUser):
    """`GET /healthz` ten times a second, beside the customers."""

    fixed_count = 1
    wait_time = constant_pacing(0.1)
    network_timeout = 30.0
    connection_timeout = 5.0

    @task
    def healthz(self) -> None:
        ledger()  # stops with the customers
        self.client.get("/healthz", name=HEALTH)


# --------------------------------------------------------------------------- the check


def history(url: str, admin_key: str, session_id: str) -> list[dict[str, Any]]:
    """Every message of a session, through the API (oldest first, all pages)."""
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        query = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
        status, page = get_json(
            f"{url}/v1/sessions/{session_id}/messages{query}",
            {"Authorization": f"Bearer {admin_key}"},
        )
        if status != 200:
            raise RuntimeError(f"history of {session_id}: HTTP {status} {page}")
        out.extend(page["items"])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return out


def exactly_once(url: str, admin_key: str, run: Ledger) -> dict[str, int]:
    """Every acknowledged turn's text is in its session's history exactly once, with the bot
    reply that was acknowledged; no text the customers sent is there twice."""
    found = {"acknowledged": 0, "once": 0, "lost": 0, "duplicated": 0, "reply_missing": 0}
    found["unacknowledged_stored"] = 0
    for conversation in run.conversations:
        messages = history(url, admin_key, conversation.session_id)
        texts = Counter(m["text"] for m in messages if m["role"] == "user")
        bot_ids = {m["message_id"] for m in messages if m["role"] == "bot"}
        acknowledged = {turn.text for turn in conversation.acknowledged}
        for turn in conversation.acknowledged:
            found["acknowledged"] += 1
            count = texts.get(turn.text, 0)
            found["once"] += count == 1
            found["lost"] += count == 0
            found["reply_missing"] += turn.bot_message_id not in bot_ids
        found["duplicated"] += sum(1 for count in texts.values() if count > 1)
        found["unacknowledged_stored"] += sum(1 for text in texts if text not in acknowledged)
    return found


# --------------------------------------------------------------------------- one run


@dataclass
class Row:
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def rows(stats: RequestStats, seconds: float) -> dict[str, Row]:
    out = {}
    for name in ROWS:
        entry = stats.entries.get((name, "GET" if name.startswith("GET") else "POST"))
        if entry is None or entry.num_requests == 0:
            continue
        out[name] = Row(
            requests=entry.num_requests,
            errors=entry.num_failures,
            rps=round(entry.num_requests / seconds, 1),
            p50_ms=float(entry.get_response_time_percentile(0.50)),
            p95_ms=float(entry.get_response_time_percentile(0.95)),
            p99_ms=float(entry.get_response_time_percentile(0.99)),
        )
    return out


def prepare_tenant(server: Server, demo: bool) -> tuple[str, str, str]:
    """(admin key, widget key, allowed origin) of the tenant the customers use."""
    if demo:
        data_dir = Path(server.env["LAMBDESK_DATA_DIR"])
        keys = json.loads((data_dir / "demo-keys.json").read_text())
        tenants = [json.loads(line) for line in server.cli("tenants", "list").splitlines()]
        tenant = next(t for t in tenants if t["tenant_id"] == keys["tenant_id"])
        return keys["admin_key"], keys["widget_key"], tenant["allowed_origins"][0]
    keys = json.loads(server.cli("tenants", "create", TENANT, "--allowed-origin", ORIGIN))
    return keys["admin_key"], keys["widget_key"], ORIGIN


def warm_up(server: Server, admin_key: str, turns: int) -> None:
    """A few turns before measuring (models, caches): not counted."""
    import urllib.request

    for i in range(turns):
        request = urllib.request.Request(
            f"{server.url}/v1/chat",
            data=json.dumps({"text": f"{QUESTIONS[i % len(QUESTIONS)]} (warm-up {i})"}).encode(),
            headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()


def run_once(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The scenario against the server of the checkout at `root`: its figures."""
    global LEDGER
    with tempfile.TemporaryDirectory(prefix="lambdesk-load-") as tmp:
        data_dir = Path(tmp) / "data"
        if args.demo:  # a copy: the run adds hundreds of sessions
            shutil.copytree(args.data_dir, data_dir)
        log = Path(tmp) / "server.log"
        server = Server(root, data_dir, log=log, lease_s=args.lease, warmup=args.demo)
        admin_key, widget_key, origin = prepare_tenant(server, args.demo)
        server.start()
        events: dict[str, float] = {}
        try:
            warm_up(server, admin_key, 20 if args.demo else 5)
            LEDGER = run = Ledger(widget_key, origin, args.retry_timeout)
            env = Environment(
                user_classes=[Customer, HealthProbe],
                host=server.url,
            )
            runner = env.create_local_runner()
            started = time.monotonic()
            runner.start(args.users + 1, spawn_rate=args.spawn_rate)
            killer = None
            if args.kill_restart:

                def kill_and_restart() -> None:
                    events["killed_at_s"] = round(time.monotonic() - started, 1)
                    server.kill()
                    gevent.sleep(args.down)
                    server.start()
                    events["down_s"] = round(time.monotonic() - started - events["killed_at_s"], 1)

                killer = gevent.spawn_later(args.duration / 2, kill_and_restart)
            gevent.sleep(args.duration)
            if killer is not None:
                killer.join()
            run.stopping = True  # no new task; the turns in flight (and their retries) finish
            seconds = time.monotonic() - started
            drain_until = time.monotonic() + args.retry_timeout + 10
            while run.in_flight and time.monotonic() < drain_until:
                gevent.sleep(0.05)
            drain_s = time.monotonic() - started - seconds
            runner.quit()
            figures = rows(env.stats, seconds)
            crashes = [row["traceback"] for row in runner.exceptions.values()]
            check = exactly_once(server.url, admin_key, run)
        finally:
            server.stop()
    return {
        "root": str(root),
        "seconds": round(seconds, 1),
        "drain_s": round(drain_s, 1),
        "users": args.users,
        "sessions": len(run.conversations),
        "rows": {name: asdict(row) for name, row in figures.items()},
        "turns": {
            "sent": run.turns,
            "acknowledged": run.acknowledged,
            "retried": run.retried,
            "retried_answered": run.retried_answered,
            "gave_up": run.gave_up,
            "unfinished": run.turns - run.acknowledged - run.gave_up,
            "refusals": dict(run.refusals),
            "retry_causes": dict(run.retry_causes),
        },
        "exactly_once": check,
        "client_exceptions": crashes,
        **({"kill_restart": events} if args.kill_restart else {}),
    }


def report(label: str, result: dict[str, Any]) -> None:
    print(
        f"\n== {label}: {result['root']} ({result['users']} customers, {result['seconds']} s, "
        f"then {result['drain_s']} s for the turns in flight)"
    )
    header = ("requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms")
    print(f"{'request':34} " + " ".join(f"{h:>8}" for h in header))
    for name, row in result["rows"].items():
        print(
            f"{name:34} {row['requests']:8d} {row['errors']:8d} {row['rps']:8.1f} "
            f"{row['p50_ms']:8.0f} {row['p95_ms']:8.0f} {row['p99_ms']:8.0f}"
        )
    turns, check = result["turns"], result["exactly_once"]
    print(f"sessions={result['sessions']}")
    for key in ("sent", "acknowledged", "retried", "retried_answered", "gave_up", "unfinished"):
        print(f"turns_{key}={turns[key]}")
    if result["client_exceptions"]:
        print(f"client_exceptions={len(result['client_exceptions'])}")
        print(result["client_exceptions"][0])
    if turns["refusals"]:
        print(f"turn_refusals={json.dumps(turns['refusals'])}")
    if turns["retry_causes"]:
        print(f"turn_retry_causes={json.dumps(turns['retry_causes'])}")
    for key, value in check.items():
        print(f"exactly_once_{key}={value}")
    for key, value in result.get("kill_restart", {}).items():
        print(f"kill_restart_{key}={value}")
    rows_ = result["rows"]
    if CHAT in rows_ and HEALTH in rows_ and rows_[HEALTH]["p50_ms"]:
        ratio = rows_[CHAT]["p50_ms"] / rows_[HEALTH]["p50_ms"]
        print(f"chat_over_healthz_p50={ratio:.1f}")


def passed(result: dict[str, Any]) -> bool:
    check, turns = result["exactly_once"], result["turns"]
    return (
        check["acknowledged"] == check["once"] == turns["acknowledged"]
        and check["duplicated"] == check["reply_missing"] == 0
        and turns["retried"] == turns["retried_answered"]
        and turns["unfinished"] == 0
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="simulated customers")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="customers started a second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--kill-restart", action="store_true", help="kill -9 the server halfway")
    parser.add_argument("--down", type=float, default=1.0, help="seconds before the restart")
    parser.add_argument("--lease", type=float, default=5.0, help="idempotency lease (seconds)")
    parser.add_argument(
        "--retry-timeout", type=float, default=60.0, help="how long a turn is retried (seconds)"
    )
    parser.add_argument("--demo", action="store_true", help="the demo tenant, real models")
    parser.add_argument("--data-dir", default=str(ROOT / ".lambdesk"), help="with --demo")
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        default=[],
        help="also run the scenario against another checkout's server; repeatable",
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    mode = "kill-restart" if args.kill_restart else "steady"
    print(f"mode={mode} users={args.users} duration_s={args.duration} cpus={os.cpu_count()}")
    if args.demo:
        env = {**os.environ, "LAMBDESK_DATA_DIR": args.data_dir, "LAMBDESK_LOG_STDOUT": "false"}
        subprocess.run(
            [sys.executable, "-m", "cli.main", "demo"], cwd=ROOT, env=env, check=True, timeout=3600
        )

    roots = [ROOT, *(r.resolve() for r in args.root)]
    results: dict[str, dict[str, Any]] = {}
    for root in roots:
        results[str(root)] = run_once(root, args)
        report("this checkout" if root == ROOT else root.name, results[str(root)])
    mine = results[str(ROOT)]["rows"]
    for root in roots[1:]:
        other = results[str(root)]["rows"]
        print(f"\n== this checkout / {root.name}")
        for name in ROWS:
            if name in mine and name in other and other[name]["rps"] and other[name]["p50_ms"]:
                print(
                    f"{name}: rps x{mine[name]['rps'] / other[name]['rps']:.2f}, "
                    f"p50 x{mine[name]['p50_ms'] / other[name]['p50_ms']:.2f}, "
                    f"p99 x{mine[name]['p99_ms'] / max(other[name]['p99_ms'], 1):.2f}"
                )
    print()
    for root in roots:
        label = "" if root == ROOT else f"[{root.name}]"
        verdict = "yes" if passed(results[str(root)]) else "NO"
        print(f"exactly_once_and_retries_answered{label}={verdict}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if passed(results[str(ROOT)]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
