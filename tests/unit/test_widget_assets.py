"""The static web files as shipped: the widget within its size budget, the vendored libraries at
the versions package.json pins (with their licences), pages that a strict Content-Security-Policy
allows (no inline script, style or handlers; nothing from another origin), and packaging that
carries every file (setuptools package data, serverless.yml)."""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import tomllib

from widget import ROOT as WIDGET

REPO = WIDGET.parent
BUDGET_BYTES = 25 * 1024


def test_the_widget_stays_within_its_size_budget() -> None:
    # Gzip of the unminified source: an upper bound of what the minified script weighs.
    data = (WIDGET / "widget.js").read_bytes()
    assert len(gzip.compress(data, compresslevel=9)) <= BUDGET_BYTES


def test_vendored_libraries_are_the_pinned_versions_with_their_licences() -> None:
    pins = json.loads((REPO / "package.json").read_text())["devDependencies"]
    vendored = {
        "chart.js": ("chart.umd.min.js", r"Chart\.js v(\S+)", "chart.js.LICENSE.md"),
        "axe-core": ("axe.min.js", r"axe v(\S+)", "axe-core.LICENSE"),
    }
    for package, (bundle, pattern, licence) in vendored.items():
        header = (WIDGET / "vendor" / bundle).read_text()[:300]
        found = re.search(pattern, header)
        assert found and found.group(1) == pins[package], package
        assert (WIDGET / "vendor" / licence).stat().st_size > 500


def test_pages_load_nothing_inline_and_nothing_from_elsewhere() -> None:
    pages = sorted((WIDGET / "pages").glob("*.html"))
    assert {p.name for p in pages} == {"admin.html", "agent.html", "demo.html", "no-demo.html"}
    for page in pages:
        html = page.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'src="/(widget\.js|static/)', tag), (page.name, tag)
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), page.name  # no inline code
        assert "<style" not in html and not re.search(r"\sstyle=", html), page.name
        assert not re.search(r"\son[a-z]+=", html), page.name
        assert not re.search(r'(src|href)="(https?:)?//', html), page.name
        for link in re.findall(r'href="(/static/[^"]+)"', html):
            assert (WIDGET / link.removeprefix("/static/")).is_file(), link


def test_every_web_file_is_packaged() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    assert "widget*" in setuptools["packages"]["find"]["include"]
    patterns = setuptools["package-data"]["widget"]
    files = [
        p.relative_to(WIDGET).as_posix()
        for p in WIDGET.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"
    ]
    assert files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
    api_function = (REPO / "serverless.yml").read_text().split("\n  api:\n", 1)[1]
    patterns_block = api_function.split("patterns:", 1)[1].split("events:", 1)[0]
    assert '"widget/**"' in patterns_block  # the API's zip carries the pages it serves
