"""Hostile knowledge uploads: how long each takes, and the longest `/healthz` stall while it is
being parsed, beside `/healthz` on an idle server in the same run.

    .venv/bin/python bench/hostile_uploads.py [--root PATH] [--encoder-onnx FILE]

Starts `python -m cli.main serve` from the checkout at `--root` (default: this one; give another
checkout, e.g. the code before a change, to compare) over a fresh temporary data dir with one
tenant, uploads a small ordinary document first (the retrieval skill loads its encoder then),
and then each document below while another client polls `/healthz` back to back:

- `markdown_36k`: `"# T\\n\\n" + " *a" * 12000` (emphasis markers that never close);
- `html_nested_52k`, `html_nested_78k`: `<div><p>word ` repeated, never closed;
- `markdown_demo`: an ordinary page (the demo's `cards.md`), for reference.

Prints one figure per line: `<doc>_status`, `<doc>_upload_s`, `<doc>_healthz_max_ms` (the
longest `/healthz` round trip that overlapped the upload) and `<doc>_healthz_polls`.
The encoder's ONNX export is taken from `--encoder-onnx`, else from the data dir of `--root` or
of this checkout (`.lambdesk/models/encoder/`); without one the server exports it on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ONNX = Path(".lambdesk") / "models" / "encoder" / "all-MiniLM-L6-v2.onnx"
UPLOAD_TIMEOUT_S = 300.0


def documents(root: Path) -> dict[str, tuple[str, str, bytes]]:
    """name -> (filename, content type, bytes)."""
    demo = root / "demo" / "knowledge" / "cards.md"
    if not demo.exists():
        demo = ROOT / "demo" / "knowledge" / "cards.md"
    return {
        "markdown_36k": ("t.md", "text/markdown", ("# T\n\n" + " *a" * 12000).encode()),
        "html_nested_52k": ("n.html", "text/html", b"<div><p>word " * 4000),
        "html_nested_78k": ("n.html", "text/html", b"<div><p>word " * 6000),
        "markdown_demo": ("cards.md", "text/markdown", demo.read_bytes()),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_onnx(root: Path, given: str | None) -> Path | None:
    if given:
        return Path(given)
    for base in (root, ROOT):
        if (base / ONNX).exists():
            return base / ONNX
    return None


def measure_upload(
    base_url: str, headers: dict[str, str], name: str, doc: tuple[str, str, bytes]
) -> None:
    """Upload one document in a thread while polling `/healthz`; print its figures."""
    filename, content_type, data = doc
    outcome: dict[str, float | int] = {}

    def send() -> None:
        started = time.perf_counter()
        try:
            response = httpx.post(
                f"{base_url}/v1/knowledge/documents",
                params={"filename": filename},
                headers={**headers, "Content-Type": content_type},
                content=data,
                timeout=UPLOAD_TIMEOUT_S,
            )
            outcome["status"] = response.status_code
        except httpx.HTTPError:
            outcome["status"] = 0
        outcome["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=send)
    polls: list[float] = []
    with httpx.Client(base_url=base_url, timeout=UPLOAD_TIMEOUT_S) as health:
        thread.start()
        while thread.is_alive():
            started = time.perf_counter()
            health.get("/healthz")
            polls.append((time.perf_counter() - started) * 1000)
    thread.join()
    print(f"{name}_bytes={len(data)}")
    print(f"{name}_status={outcome['status']}")
    print(f"{name}_upload_s={outcome['seconds']:.3f}")
    print(f"{name}_healthz_max_ms={max(polls, default=0.0):.1f}")
    print(f"{name}_healthz_polls={len(polls)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(ROOT), help="the checkout to serve")
    parser.add_argument("--encoder-onnx", help="an ONNX export of the encoder to reuse")
    args = parser.parse_args()
    root = Path(args.root).resolve()

    with tempfile.TemporaryDirectory(prefix="lambdesk-hostile-") as data_dir:
        env = {
            **os.environ,
            "PYTHONPATH": str(root),
            "LAMBDESK_DATA_DIR": data_dir,
            "LAMBDESK_LOG_STDOUT": "false",
            "LAMBDESK_WARMUP": "false",
            "HF_HUB_OFFLINE": "1",
        }
        onnx = find_onnx(root, args.encoder_onnx)
        if onnx is not None:
            env["LAMBDESK_ENCODER_ONNX_PATH"] = str(onnx)
        lambdesk = [sys.executable, "-m", "cli.main"]
        created = subprocess.run(
            [*lambdesk, "tenants", "create", "bench", "--name", "Bench"],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        headers = {"Authorization": f"Bearer {json.loads(created.stdout)['admin_key']}"}
        port = free_port()
        server = subprocess.Popen(
            [*lambdesk, "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.2)
            warm = httpx.post(
                f"{base_url}/v1/knowledge/documents",
                params={"filename": "warm.md"},
                headers={**headers, "Content-Type": "text/markdown"},
                content=b"# Warm-up\n\nThe encoder loads on the first document.",
                timeout=UPLOAD_TIMEOUT_S,
            )
            warm.raise_for_status()
            idle = []
            with httpx.Client(base_url=base_url, timeout=30) as client:
                for _ in range(50):
                    started = time.perf_counter()
                    client.get("/healthz")
                    idle.append((time.perf_counter() - started) * 1000)
            print(f"root={root} cpus={os.cpu_count()} encoder_onnx={onnx}")
            print(f"healthz_idle_p50_ms={statistics.median(idle):.2f}")
            print(f"healthz_idle_max_ms={max(idle):.2f}")
            for name, doc in documents(root).items():
                measure_upload(base_url, headers, name, doc)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
