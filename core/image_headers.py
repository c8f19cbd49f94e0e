"""An image's format and pixel size from its first bytes, in pure Python (no Pillow, no numpy).

The API checks every image it receives with `check_image` before anything is stored or a skill
is asked: more bytes than allowed is 413 (`ImageTooLarge`), anything but PNG, JPEG, WebP or GIF is
415 (`UnsupportedImage`), a header that does not parse is 422 (`UndecodableImage`), and a header
claiming more pixels than allowed is 413 (`TooManyPixels`: a decompression bomb is refused
before a byte of it is decoded). Decoding the pixels is the vision skill's work (`core.images`,
Pillow), so the API function ships no imaging library.

Headers read: PNG `IHDR`; GIF's logical screen; WebP's `VP8 `, `VP8L` and `VP8X` chunks; JPEG's
first start-of-frame segment (segments walked by their lengths, bounded by the data).
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from core.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_PIXELS = 36_000_000  # 6000 × 6000; an RGB copy of that is about 100 MB

FORMATS: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
EXTENSIONS: dict[str, str] = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
CONTENT_TYPES: frozenset[str] = frozenset({*FORMATS.values(), "image/jpg", "image/pjpeg"})

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): not C4, C8, CC
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# markers without a length: TEM, RST0-7, SOI, EOI
_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})


class ImageTooLarge(PayloadTooLarge):
    code = "image_too_large"


class TooManyPixels(PayloadTooLarge):
    code = "image_too_many_pixels"


class UnsupportedImage(UnsupportedMediaType):
    code = "unsupported_image"

    def __init__(self, message: str = "not an image: send PNG, JPEG, WebP or GIF") -> None:
        super().__init__(message)


class UndecodableImage(Unprocessable):
    code = "undecodable_image"

    def __init__(self, message: str = "could not decode the image") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class ImageHeader:
    format: str  # PNG, JPEG, WEBP or GIF
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return FORMATS[self.format]

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.format]


def sniff_format(data: bytes) -> str | None:
    """`PNG`, `JPEG`, `WEBP` or `GIF` from the first bytes; None for anything else."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise UndecodableImage("could not decode the PNG header")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _gif(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise UndecodableImage("could not decode the GIF header")
    width, height = struct.unpack("<HH", data[6:10])
    return int(width), int(height)


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise UndecodableImage("could not decode the WebP header")


def _jpeg(data: bytes) -> tuple[int, int]:
    i, end = 2, len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            break
        if marker in _SOF:
            if i + 9 > end:
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        if marker == 0xDA:  # start of scan before any frame header
            break
        i += 2 + length
    raise UndecodableImage("could not decode the JPEG header")


_READERS = {"PNG": _png, "GIF": _gif, "WEBP": _webp, "JPEG": _jpeg}


def read_header(data: bytes) -> ImageHeader:
    """The format and size the header declares: `UnsupportedImage` for anything but the four
    formats, `UndecodableImage` for a header that does not parse or declares no pixels."""
    kind = sniff_format(data)
    if kind is None:
        raise UnsupportedImage()
    width, height = _READERS[kind](data)
    if width < 1 or height < 1:
        raise UndecodableImage(f"the {kind} header declares no pixels")
    return ImageHeader(format=kind, width=width, height=height)


def check_image(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageHeader:
    """Every check short of decoding: bytes (413), format (415), header (422), pixels (413)."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes; the limit is {max_bytes}")
    header = read_header(data)
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise TooManyPixels(
            f"image is {header.width}×{header.height} = {pixels} pixels; the limit is {max_pixels}"
        )
    return header


def decode_image_b64(value: str, *, max_bytes: int) -> bytes:
    """Base64 (or a `data:image/...;base64,` URL) → bytes: 413 past `max_bytes` (counted before
    decoding), 422 when it is not base64."""
    if value.startswith("data:"):
        header, _, value = value.partition(",")
        if not header.endswith(";base64"):
            raise UndecodableImage("image_b64: a data URL must be base64-encoded")
    value = value.strip()
    if len(value) > 4 * (max_bytes // 3 + 1) + 4:
        raise ImageTooLarge(f"image is larger than the limit of {max_bytes} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UndecodableImage("image_b64 is not valid base64") from exc
