"""The API process must not import model libraries: importing `api.app` and building the app
in a fresh interpreter leaves torch, transformers and sentence-transformers unloaded, and the
image and video decoders (Pillow, PyAV) too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# model libraries, and the image and video decoders (images are checked from their headers in
# the API; the vision and video functions decode them)
HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "PIL", "av")

SCRIPT = f"""
import json, sys
from api.app import create_app
app = create_app()
assert app.routes
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""


def test_api_import_does_not_load_model_libraries() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "LAMBDESK_WARMUP": "false"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
