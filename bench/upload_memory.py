"""Memory under concurrent voice uploads: 30 uploads of 10 MiB each, all at once, against a real
`lambdesk serve` process, and that process's memory before, at its peak and after.

The uploads are random bytes declared as `audio/ogg` and sent as raw bodies (`--multipart`: as
the `file` part of a form). The server receives and stores each one in full before the asr
skill's probe looks at it, so the whole upload path runs; the probe then refuses the bytes
(`422 undecodable_audio`) and the stored upload is removed. That answer is the expected one
here: no model loads, and the figures are about receiving uploads, not recognising speech.
(Locally the probe runs inside the server process and reads the stored upload whole, a few at
a time: part of the peak is the probe's. `--content-type audio/x-unknown` is refused with 415
once received, before it is stored or probed: the receiving alone.)

Memory is read from `/proc/<pid>/status` of the server process: `VmRSS` sampled every 10 ms
(before, the sampled peak, and after the uploads once the server is idle again) and `VmHWM`,
the kernel's own high-water mark. One small upload first loads the modules the route uses, so
"before" is a warm, idle server. `--root PATH` (repeatable) measures the server of another
checkout too (with this interpreter), in the same invocation, and prints the ratios.

    .venv/bin/python bench/upload_memory.py [--uploads 30] [--mib 10] [--multipart]
        [--content-type TYPE] [--root OTHER_CHECKOUT ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TENANT = "uploads"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    """`VmRSS` and `VmHWM` of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


class Sampler(threading.Thread):
    """The highest `VmRSS` of a process while it runs (every `interval_s`)."""

    def __init__(self, pid: int, interval_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.peak_kb = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kb = max(self.peak_kb, memory_kb(self.pid)["VmRSS"])
            self.samples += 1
            self._done.wait(self.interval_s)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def start_server(root: Path, data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """The server of the checkout at `root` over a new tenant: (process, base URL, admin key)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "LAMBDESK_DATA_DIR": str(data_dir),
        "LAMBDESK_LOG_STDOUT": "false",
        "LAMBDESK_WARMUP": "false",
        "LAMBDESK_TURNS_PER_MINUTE": "1000000",
        "LAMBDESK_ADMIN_TURNS_PER_MINUTE": "1000000",
    }
    created = subprocess.run(
        [sys.executable, "-m", "cli.main", "tenants", "create", TENANT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    admin_key = json.loads(created.stdout)["admin_key"]
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited; see {log}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, admin_key
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start; see {log}")


def upload(url: str, admin_key: str, data: bytes, args: argparse.Namespace) -> str:
    """One voice upload; its status (or the client's error)."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    try:
        if args.multipart:
            files = {"file": ("message.ogg", data, args.content_type)}
            response = httpx.post(f"{url}/v1/voice", headers=headers, files=files, timeout=300)
        else:
            headers["Content-Type"] = args.content_type
            response = httpx.post(f"{url}/v1/voice", headers=headers, content=data, timeout=300)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    code = ""
    if response.status_code >= 400:
        try:
            code = " " + str(response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = ""
    return f"{response.status_code}{code}"


def settle(pid: int, seconds: float = 3.0) -> int:
    """`VmRSS` once the server has been idle a moment (the lowest of a few reads)."""
    lowest = memory_kb(pid)["VmRSS"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        lowest = min(lowest, memory_kb(pid)["VmRSS"])
    return lowest


def measure(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    data = os.urandom(int(args.mib * MIB))
    with tempfile.TemporaryDirectory(prefix="lambdesk-uploads-") as tmp:
        log = Path(tmp) / "server.log"
        process, url, admin_key = start_server(root, Path(tmp) / "data", log)
        try:
            warm = upload(url, admin_key, os.urandom(4096), args)
            before = settle(process.pid)
            sampler = Sampler(process.pid)
            sampler.start()
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=args.uploads) as pool:
                statuses = list(
                    pool.map(
                        lambda _: upload(url, admin_key, data, args),
                        range(args.uploads),
                    )
                )
            seconds = time.monotonic() - started
            time.sleep(0.2)
            sampler.stop()
            after = settle(process.pid)
            hwm = memory_kb(process.pid)["VmHWM"]
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "root": str(root),
        "uploads": args.uploads,
        "mib_each": args.mib,
        "multipart": args.multipart,
        "content_type": args.content_type,
        "warm_up_status": warm,
        "statuses": dict(Counter(statuses)),
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(sampler.peak_kb / 1024, 1),
        "hwm_mb": round(hwm / 1024, 1),
        "rss_after_mb": round(after / 1024, 1),
        "peak_increase_mb": round((max(sampler.peak_kb, hwm) - before) / 1024, 1),
        "held_after_mb": round((after - before) / 1024, 1),
        "samples": sampler.samples,
    }


def report(label: str, result: dict[str, Any]) -> None:
    kind = "multipart" if result["multipart"] else "raw"
    print(
        f"\n== {label}: {result['root']} ({result['uploads']} x {result['mib_each']} MiB "
        f"{kind} {result['content_type']} uploads at once)"
    )
    for key in (
        "warm_up_status",
        "statuses",
        "seconds",
        "rss_before_mb",
        "rss_peak_mb",
        "hwm_mb",
        "rss_after_mb",
        "peak_increase_mb",
        "held_after_mb",
    ):
        value = result[key]
        print(f"{key}={json.dumps(value) if isinstance(value, dict) else value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=30, help="concurrent uploads")
    parser.add_argument("--mib", type=float, default=10.0, help="size of each upload (MiB)")
    parser.add_argument("--multipart", action="store_true", help="multipart forms, not raw bodies")
    parser.add_argument("--content-type", default="audio/ogg", help="the declared type")
    parser.add_argument(
        "--root",
        type=Path,
        action="append",
        default=[],
        help="also measure another checkout's server; repeatable",
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    print(f"uploads={args.uploads} mib_each={args.mib} cpus={os.cpu_count()}")

    roots = [ROOT, *(r.resolve() for r in args.root)]
    results: dict[str, dict[str, Any]] = {}
    for root in roots:
        results[str(root)] = measure(root, args)
        report("this checkout" if root == ROOT else root.name, results[str(root)])
    mine = results[str(ROOT)]
    for root in roots[1:]:
        other = results[str(root)]
        print(f"\n== this checkout / {root.name}")
        for key in ("peak_increase_mb", "held_after_mb"):
            ratio = mine[key] / other[key] if other[key] > 0 else float("nan")
            print(f"{key}: {mine[key]} vs {other[key]} (x{ratio:.2f})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
