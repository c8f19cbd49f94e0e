"""Images from the network, bounded: PNG, JPEG, WebP, or a GIF's first frame, decoded with
Pillow into RGB and resized to a model's square input.

Shared by everything that reads an image: the vision skill (serving), vision training (a folder
of labelled images), the video frame sampler, and the API's upfront checks. Nothing here imports
a model library. Every failure is a domain error the API answers directly:

- `ImageTooLarge` (413): more bytes than allowed;
- `UnsupportedImage` (415): not one of the four formats (or not an image at all);
- `TooManyPixels` (413): more pixels than allowed, checked from the header before anything is
  decoded (decompression bombs); Pillow's own limit is set too, as a second line;
- `UndecodableImage` (422): the header says image, the pixels do not decode.

Transparent pixels are composited over black (the packaged data sets are white-on-black); JPEG
EXIF orientation is applied; resizing squashes to a square (no crop: a video frame's sides
matter as much as its middle).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from core.image_headers import (
    CONTENT_TYPES,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    FORMATS,
    ImageTooLarge,
    TooManyPixels,
    UndecodableImage,
    UnsupportedImage,
    sniff_format,
)

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "ImageTooLarge",
    "TooManyPixels",
    "UndecodableImage",
    "UnsupportedImage",
    "array_to_rgb",
    "encode_jpeg",
    "encode_png",
    "load_image",
    "open_image",
    "resize_rgb",
    "sniff_format",
]


def _pillow() -> Any:
    from PIL import Image

    # Pillow's own bomb guard, for any code path that opens images without `open_image`: it
    # warns past this many pixels and refuses past twice as many.
    if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > DEFAULT_MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
    return Image


def open_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft: int | None = None,
) -> Any:
    """Decode `data` into an RGB `PIL.Image` (the first frame of an animation).

    `draft`: the size the caller will shrink to; JPEGs then decode at a reduced scale (DCT
    scaling, much faster for photos) that stays at least that large.
    """
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_format(data)
    if kind is None:
        raise UnsupportedImage()
    Image = _pillow()
    from PIL import ImageOps, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[kind])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooManyPixels(f"image has too many pixels (limit {max_pixels})") from exc
        except UnidentifiedImageError as exc:
            raise UndecodableImage(f"could not decode the {kind} header") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise UndecodableImage(f"could not decode the {kind} image: {exc}") from exc
        width, height = image.size
        if width < 1 or height < 1:
            raise UndecodableImage("image has no pixels")
        if width * height > max_pixels:
            raise TooManyPixels(
                f"image is {width}×{height} = {width * height} pixels; the limit is {max_pixels}"
            )
        try:
            if draft is not None and kind == "JPEG":
                image.draft("RGB", (draft, draft))
            image.load()  # the first frame only: GIF/WebP animations are never read further
            image = ImageOps.exif_transpose(image) or image
            return _to_rgb(image, Image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise TooManyPixels(f"image has too many pixels (limit {max_pixels})") from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise UndecodableImage(f"could not decode the {kind} image: {exc}") from exc


def _to_rgb(image: Any, Image: Any) -> Any:
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16/32-bit greyscale: scale to 8 bits instead of clipping at 255
            array = np.asarray(image, dtype=np.float64)
            peak = array.max() or 1.0
            image = Image.fromarray((array * (255.0 / peak)).astype(np.uint8))
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (0, 0, 0))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def resize_rgb(image: Any, size: int) -> np.ndarray:
    """A square `size`×`size`×3 uint8 array of an RGB (or greyscale) `PIL.Image`."""
    from PIL import Image

    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)


def array_to_rgb(array: np.ndarray, size: int) -> np.ndarray:
    """Resize an H×W (greyscale) or H×W×3 uint8 array the same way as a decoded image."""
    from PIL import Image

    array = np.ascontiguousarray(array, dtype=np.uint8)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"expected an H×W or H×W×3 array, got shape {array.shape}")
    return resize_rgb(Image.fromarray(array), size)


def load_image(
    data: bytes,
    *,
    size: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Bytes → a `size`×`size`×3 uint8 array (see `open_image` for the errors)."""
    image = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels, draft=size)
    return resize_rgb(image, size)


def encode_png(array: np.ndarray) -> bytes:
    """An H×W×3 uint8 array as PNG bytes (tests, and frames sent to the skill by value)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(array: np.ndarray, *, quality: int = 90) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()
