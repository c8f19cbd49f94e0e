"""Download size of the web widget: `widget/widget.js` as served, gzipped, minified with terser
(pinned in package.json) and minified + gzipped, beside the 25 KB budget and, as a reference
measured the same way in the same run, the vendored Chart.js bundle the analytics page loads.

    .venv/bin/python bench/widget_size.py

Needs `npm ci` (terser comes from node_modules). One figure per line.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDGET = ROOT / "widget" / "widget.js"
REFERENCE = ROOT / "widget" / "vendor" / "chart.umd.min.js"
BUDGET_BYTES = 25 * 1024
TERSER = ROOT / "node_modules" / ".bin" / "terser"


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def minify(path: Path) -> bytes:
    result = subprocess.run(
        [str(TERSER), str(path), "--compress", "--mangle", "--comments", "false"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def main() -> int:
    raw = WIDGET.read_bytes()
    small = minify(WIDGET)
    reference = REFERENCE.read_bytes()
    print(f"widget.js raw: {len(raw)} bytes")
    print(f"widget.js gzip: {gz(raw)} bytes")
    print(f"widget.js minified (terser): {len(small)} bytes")
    print(f"widget.js minified+gzip: {gz(small)} bytes")
    print(f"budget: {BUDGET_BYTES} bytes; widget uses {gz(small) / BUDGET_BYTES:.1%} of it")
    print(f"reference chart.umd.min.js gzip: {gz(reference)} bytes")
    print(f"widget / Chart.js (both minified+gzip): {gz(small) / gz(reference):.2f}")
    return 0 if gz(small) <= BUDGET_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
