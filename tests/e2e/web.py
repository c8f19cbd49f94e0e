"""What the browser tests stand on: a real server (uvicorn on a free port, the real local stores,
the fast fake skills of `tests/fakes.py`) with a demo-like tenant whose allowed origins are the
server's own and a test host site's; that host site (a static file server that answers on
127.0.0.1, allowed, and on localhost, a refused origin); and headless Debian Chromium driven by
Selenium, with helpers to reach into the widget's shadow root and to run the vendored axe-core.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from api.app import create_app
from core.auth import create_tenant_with_keys
from core.bootstrap import Services, build_blob_store, build_services
from core.models import Tenant
from core.ports import SkillContext
from core.settings import Settings
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from knowledge.documents import add_document
from tests.fakes import fake_intent, fake_retrieval
from widget import ROOT as WIDGET_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
TENANT = "northwind"
RESPONSES = {
    "card_arrival": "New cards arrive within 3-5 working days. If yours is late, we send another.",
    "refund_policy": "You can ask for a refund within 30 days of a purchase.",
    "reset_password": "Tap 'Forgot password' on the sign-in screen to reset it.",
}
DOCS = {
    "opening-hours.md": "# Opening hours\n\nOur branches are open Monday to Friday from 9am to "
    "5pm, and on Saturday from 9am to 1pm. Branches are closed on Sunday.\n",
    "branch-services.md": "# Branch services\n\nIn every branch you can pay in cash and cheques, "
    "order currency and talk to an adviser. Saturday services are limited.\n",
}
TURN_DELAY_S = 0.6  # the retrieval stand-in answers this late, so the typing indicator shows
HEARD = "When are branches open on Saturday?"  # what the speech-recognition stand-in hears


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slow_retrieval(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    if event.get("op", "search") == "search":
        time.sleep(TURN_DELAY_S)
    return fake_retrieval(event, ctx)


def fake_asr(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """Speech recognition stand-in: the recording must be stored; it always hears `HEARD`."""
    audio = ctx.blobs.get(tenant_id=str(event["tenant_id"]), key=str(event["audio_key"]))
    assert len(audio) > 100
    if event.get("op") == "probe":
        return {"ext": "webm", "duration_s": 1.0}
    return {"text": HEARD, "language": "en", "duration_s": 1.0, "engine": "fake", "model": "fake"}


def fake_tts(event: dict[str, Any], ctx: SkillContext) -> dict[str, Any]:
    """Speech synthesis stand-in: half a second of a 440 Hz tone, as the real skill stores it."""
    import numpy as np

    from skills.audio import encode

    rate = 24000
    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate).astype(np.float32)
    data = encode(tone, sample_rate=rate, fmt=str(event["format"]))
    ctx.blobs.put(tenant_id=str(event["tenant_id"]), key=str(event["out_key"]), data=data)
    return {
        "key": event["out_key"],
        "duration_s": 0.5,
        "sample_rate": rate,
        "format": event["format"],
    }


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a background thread cannot take signals
        pass


@dataclass
class Site:
    """The running system: the API (and its pages) and the test host site."""

    base_url: str
    host_url: str  # the allowed host site (127.0.0.1)
    refused_url: str  # the same host site under another origin (localhost): not allowed
    services: Services
    admin_key: str
    widget_key: str


def _host_pages(folder: Path, api: str, widget_key: str) -> None:
    """The host site's pages: one with hostile CSS, both embedding the widget from the API."""
    tag = f'<script src="{api}/widget.js" data-key="{widget_key}" data-title="Acme Shop" async>'
    (folder / "hostile.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Hostile shop</title>"
        '<link rel="icon" href="data:,"><style>'
        "*{box-sizing:content-box!important;margin:13px!important;padding:9px!important;"
        "font:italic 31px/3 serif!important;color:#f0f!important;letter-spacing:4px!important;"
        "text-transform:uppercase!important;border:3px dashed red!important}"
        "html,body{background:#222!important}"
        "div{display:none!important;position:static!important;width:10px!important}"
        "button{display:none!important;background:lime!important;width:3px!important;"
        "height:3px!important;visibility:hidden!important}"
        "section,textarea,form,header{display:none!important}"
        "svg{display:none!important}"
        "*{z-index:1!important;line-height:4!important;text-align:right!important}"
        "</style></head><body><h1>Acme Shop</h1><div>A page that resets everything.</div>"
        "<button>Buy</button>" + tag + "</script></body></html>"
    )
    (folder / "plain.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
        '<link rel="icon" href="data:,"></head><body><h1>Shop</h1>'
        + tag
        + "</script></body></html>"
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def start_site(data_dir: Path, pages_dir: Path) -> Iterator[Site]:
    """Start everything; yields the `Site`, stops it all afterwards."""
    settings = Settings(backend="local", data_dir=data_dir, log_stdout=False, warmup=False)
    invoker = InProcessSkillInvoker(
        SkillContext(blobs=build_blob_store(settings), settings=settings),
        workers=4,
        registry={
            "intent": fake_intent,
            "retrieval": slow_retrieval,
            "asr": fake_asr,
            "tts": fake_tts,
        },
    )
    services = build_services(settings, skills=invoker)
    api_port, host_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{api_port}"
    host_url = f"http://127.0.0.1:{host_port}"
    _, admin_key, widget_key = create_tenant_with_keys(
        tenants=services.tenants,
        tenant=Tenant(
            tenant_id=TENANT,
            name="Northwind Bank",
            allowed_origins=[base_url, host_url],
            responses=dict(RESPONSES),
            greeting="Hi! I'm Northwind's assistant. How can I help?",
        ),
    )
    for name, text in DOCS.items():
        asyncio.run(
            add_document(
                tenant_id=TENANT,
                filename=name,
                content_type="text/markdown",
                data=text.encode(),
                blobs=services.blobs,
                skills=services.skills,
                max_bytes=settings.max_document_bytes,
                timeout=30,
            )
        )
    # What `lambdesk demo` leaves for the demo page at `/`.
    keys = {"tenant_id": TENANT, "admin_key": admin_key, "widget_key": widget_key}
    (settings.resolved_data_dir / "demo-keys.json").write_text(json.dumps(keys))
    _host_pages(pages_dir, base_url, widget_key)

    app = create_app(services)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", api_port))
    server = _Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    handler = functools.partial(_QuietHandler, directory=str(pages_dir))
    static = http.server.ThreadingHTTPServer(("", host_port), handler)
    static_thread = threading.Thread(target=static.serve_forever, daemon=True)
    static_thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield Site(
            base_url=base_url,
            host_url=host_url,
            refused_url=f"http://localhost:{host_port}",
            services=services,
            admin_key=admin_key,
            widget_key=widget_key,
        )
    finally:
        static.shutdown()
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        services.close()


# --------------------------------------------------------------------------- the browser


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None and shutil.which(CHROMEDRIVER) is not None


def new_browser(profile: Path, *, width: int = 1280, height: int = 900) -> Any:
    """Headless Debian Chromium under Selenium, with a fresh profile and no network chatter."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--use-fake-ui-for-media-stream",  # the microphone: allowed, and a generated tone
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    return driver


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout: float = 10.0) -> Any:
    """Poll `condition(driver)` until it is truthy (explicit waits, no sleeps)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


SHADOW = "const r = document.querySelector('lambdesk-chat'); const s = r && r.shadowRoot;"


def in_widget(driver: Any, script: str, *args: Any) -> Any:
    """Run `script` with `s` bound to the widget's shadow root (null until it is mounted)."""
    return driver.execute_script(SHADOW + script, *args)


def widget_messages(driver: Any) -> list[dict[str, str]]:
    return in_widget(
        driver,
        "if (!s) return []; return [...s.querySelectorAll('.log .m')].map(m => ({"
        "role: m.classList[1], text: m.querySelector('.b').textContent,"
        "id: m.dataset.id || ''}));",
    )


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page (vendored axe-core)."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script((WIDGET_ROOT / "vendor" / "axe.min.js").read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        "nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def screenshot_region(
    driver: Any, name: str, *, x: float, y: float, width: float, height: float, scale: float
) -> Path:
    """A scaled screenshot of one region of the page (what the README shows, kept small)."""
    import base64

    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": x, "y": y, "width": width, "height": height, "scale": scale},
        },
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def page_errors(driver: Any) -> list[str]:
    """Severe browser console entries since the last call (script errors, CSP violations)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
