"""The API's image checks without decoding: the size each header declares agrees with what
Pillow decodes, for every accepted format and flavour (progressive JPEG, lossy, lossless and
extended WebP, an animated GIF); other bytes are 415, broken headers 422, bombs and big files
413 — and the module imports neither Pillow nor numpy."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.image_headers import (
    ImageTooLarge,
    TooManyPixels,
    UndecodableImage,
    UnsupportedImage,
    check_image,
    read_header,
)
from tests.vision_fixtures import encode, gif_two_frames, png_header_only, solid

ROOT = Path(__file__).resolve().parents[2]
RED = (220, 30, 30)


def noisy(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(width * 1000 + height)
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("fmt", "options", "ext"),
    [
        ("PNG", {}, "png"),
        ("JPEG", {"quality": 90}, "jpg"),
        ("JPEG", {"quality": 80, "progressive": True}, "jpg"),
        ("JPEG", {"quality": 80, "exif": b"Exif\x00\x00" + bytes(64)}, "jpg"),
        ("WEBP", {"quality": 80}, "webp"),
        ("WEBP", {"lossless": True}, "webp"),
        ("WEBP", {"quality": 80, "exif": b"Exif\x00\x00" + bytes(16)}, "webp"),  # VP8X
        ("GIF", {}, "gif"),
    ],
)
@pytest.mark.parametrize(("width", "height"), [(1, 1), (37, 23), (301, 150)])
def test_the_declared_size_is_the_decoded_size(
    fmt: str, options: dict[str, object], ext: str, width: int, height: int
) -> None:
    from PIL import Image

    data = encode(noisy(width, height), fmt, **options)
    header = read_header(data)
    with Image.open(io.BytesIO(data)) as decoded:
        assert (header.width, header.height) == decoded.size == (width, height)
    assert header.ext == ext and header.content_type.startswith("image/")


def test_an_animated_gif_is_read_as_its_screen() -> None:
    header = read_header(
        gif_two_frames(solid(RED, width=20, height=10), solid(RED, width=20, height=10))
    )
    assert (header.format, header.width, header.height) == ("GIF", 20, 10)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"%PDF-1.7\n", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\x00\x00\x00\x18ftypmp42"],
)
def test_what_is_not_an_image_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedImage) as caught:
        check_image(data)
    assert caught.value.status == 415


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(8),  # cut before IHDR
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",  # cut before any frame header
        b"\xff\xd8\xff\xda\x00\x08" + bytes(20),  # a scan before the frame header
        b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(4),
        b"GIF89a\x01",
        png_header_only(0, 10),
    ],
)
def test_a_broken_header_is_undecodable(data: bytes) -> None:
    with pytest.raises(UndecodableImage) as caught:
        check_image(data)
    assert caught.value.status == 422


def test_limits_of_bytes_and_pixels() -> None:
    with pytest.raises(TooManyPixels) as pixels:
        check_image(png_header_only(60_000, 60_000))
    assert pixels.value.status == 413
    data = encode(solid(RED, width=50, height=40), "PNG")
    with pytest.raises(ImageTooLarge):
        check_image(data, max_bytes=len(data) - 1)
    with pytest.raises(TooManyPixels):
        check_image(data, max_pixels=50 * 40 - 1)
    assert check_image(data, max_bytes=len(data), max_pixels=50 * 40).format == "PNG"


def test_the_module_imports_no_imaging_library() -> None:
    script = "import sys, json, core.image_headers; print(json.dumps(sorted(m for m in "
    script += "('PIL', 'numpy') if m in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
