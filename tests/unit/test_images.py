"""Images from the network: every accepted format decodes to RGB at the asked size; everything
else gets its typed error (too many bytes or pixels 413, not an image 415, undecodable 422)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from core.images import (
    ImageTooLarge,
    TooManyPixels,
    UndecodableImage,
    UnsupportedImage,
    array_to_rgb,
    load_image,
    open_image,
    sniff_format,
)
from tests.vision_fixtures import encode, gif_two_frames, png_header_only, solid

RED = (220, 30, 30)
BLUE = (30, 40, 220)


@pytest.mark.parametrize(
    ("fmt", "options", "name"),
    [
        ("PNG", {}, "PNG"),
        ("JPEG", {"quality": 95}, "JPEG"),
        ("WEBP", {"lossless": True}, "WEBP"),
        ("GIF", {}, "GIF"),
    ],
)
def test_each_accepted_format_decodes_to_rgb_at_the_asked_size(
    fmt: str, options: dict[str, object], name: str
) -> None:
    data = encode(solid(RED, width=40, height=30), fmt, **options)
    assert sniff_format(data) == name
    array = load_image(data, size=16)
    assert array.shape == (16, 16, 3) and array.dtype == np.uint8
    centre = array[8, 8].astype(int)
    assert abs(centre[0] - RED[0]) <= 12 and centre[1] < 70 and centre[2] < 70


def test_a_gif_gives_its_first_frame() -> None:
    data = gif_two_frames(solid(RED), solid(BLUE))
    array = load_image(data, size=8)
    assert array[4, 4, 0] > 150 and array[4, 4, 2] < 100


def test_transparent_pixels_become_black() -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:, :5, 3] = 255  # left half opaque red, right half fully transparent
    array = load_image(encode(rgba, "PNG"), size=10)
    assert tuple(array[5, 1]) == (255, 0, 0)
    assert tuple(array[5, 8]) == (0, 0, 0)


def test_greyscale_and_palette_images_become_rgb() -> None:
    from PIL import Image

    grey = np.full((12, 12), 200, dtype=np.uint8)
    assert tuple(load_image(encode(grey, "PNG"), size=4)[0, 0]) == (200, 200, 200)
    palette = Image.fromarray(solid(BLUE, width=12, height=12)).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    pixel = load_image(buffer.getvalue(), size=4)[0, 0]
    assert pixel[2] > 150 and pixel[0] < 100


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    from PIL import Image

    deep = np.full((6, 6), 40000, dtype=np.uint16)
    deep[0, 0] = 65535
    buffer = io.BytesIO()
    Image.fromarray(deep).save(buffer, format="PNG")
    array = load_image(buffer.getvalue(), size=6)
    assert 150 < int(array[3, 3, 0]) < 160  # 40000 / 65535 × 255 ≈ 156, not 255


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is text",
        b"%PDF-1.7\n%...",
        b"",
        b"BM" + bytes(100),  # a BMP: an image, but not one we accept
    ],
)
def test_anything_else_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedImage) as caught:
        open_image(data)
    assert caught.value.status == 415


def test_a_truncated_image_cannot_be_decoded() -> None:
    data = encode(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8), "PNG")
    with pytest.raises(UndecodableImage) as caught:
        open_image(data[: len(data) // 2])
    assert caught.value.status == 422


def test_a_corrupt_header_cannot_be_decoded() -> None:
    with pytest.raises(UndecodableImage):
        open_image(b"\x89PNG\r\n\x1a\n" + bytes(40))


def test_more_bytes_than_allowed_is_refused_before_decoding() -> None:
    data = encode(solid(RED), "PNG")
    with pytest.raises(ImageTooLarge) as caught:
        open_image(data, max_bytes=len(data) - 1)
    assert caught.value.status == 413


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_header_only(100_000, 100_000)  # 10 billion pixels in a few dozen bytes
    assert len(bomb) < 200
    with pytest.raises(TooManyPixels) as caught:
        open_image(bomb)
    assert caught.value.status == 413


def test_the_pixel_limit_is_per_call() -> None:
    data = encode(solid(RED, width=100, height=100), "PNG")
    with pytest.raises(TooManyPixels):
        open_image(data, max_pixels=100 * 100 - 1)
    assert open_image(data, max_pixels=100 * 100).size == (100, 100)


def test_arrays_are_resized_like_decoded_images() -> None:
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = array_to_rgb(grey, 32)
    assert out.shape == (32, 32, 3)
    assert (out[..., 0] == out[..., 1]).all()
    with pytest.raises(ValueError):
        array_to_rgb(np.zeros((4, 4, 2), dtype=np.uint8), 8)
