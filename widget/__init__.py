"""The web front ends, as static files served by the API (`api/routes/pages.py`): the embeddable
chat widget (`widget.js`), the demo page, the agent console and the analytics page (`pages/`),
and the vendored browser libraries (`vendor/`: Chart.js, axe-core). Plain JavaScript, no build
step; packaged with the API (setuptools package data, and `widget/**` in serverless.yml)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
