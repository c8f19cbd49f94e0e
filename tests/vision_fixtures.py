"""Small generated vision data for the tests: colour images whose class is their dominant colour,
encoded files of each accepted format, a tiny CIFAR-10 directory in the standard pickle format,
videos made with PyAV, and one tiny colour model trained once per test process."""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 40, 220),
}


def colour_image(name: str, *, size: int = 24, seed: int = 0) -> np.ndarray:
    """A size×size×3 uint8 image mostly of colour `name`, with noise and a dark square."""
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[name], dtype=np.int16)
    image = base + rng.integers(-25, 26, size=(size, size, 3))
    y, x = rng.integers(0, size // 2, size=2)
    image[y : y + size // 4, x : x + size // 4] = rng.integers(0, 60)
    return np.clip(image, 0, 255).astype(np.uint8)


def solid(rgb: tuple[int, int, int], *, width: int = 64, height: int = 48) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (height, width, 3)).copy()


def encode(array: np.ndarray, fmt: str, **options: Any) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gif_two_frames(first: np.ndarray, second: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    frames = [Image.fromarray(first), Image.fromarray(second)]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`×`height` pixels, with a few bytes of data: the shape of
    a decompression bomb, without the bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def write_colour_folder(root: Path, *, per_class: int = 4, size: int = 24) -> Path:
    """One sub-folder per colour; files in PNG, JPEG, WebP and GIF."""
    formats = [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("GIF", ".gif")]
    for name in COLOURS:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            fmt, suffix = formats[i % len(formats)]
            image = colour_image(name, size=size, seed=i)
            (folder / f"{i}{suffix}").write_bytes(encode(image, fmt))
    return root


def write_tiny_cifar(root: Path, *, per_class: int = 3) -> Path:
    """`data_batch_1`, `test_batch` and `batches.meta` in the CIFAR-10 python format (rows of
    1024 red, 1024 green, 1024 blue values; protocol 2 pickles with bytes keys)."""
    root.mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)

    def batch(seed: int) -> dict[bytes, Any]:
        rows, labels = [], []
        for label, name in enumerate(names):
            for i in range(per_class):
                image = colour_image(name, size=32, seed=seed + i)
                rows.append(image.transpose(2, 0, 1).reshape(-1))
                labels.append(label)
        return {
            b"batch_label": b"tiny",
            b"labels": labels,
            b"data": np.stack(rows).astype(np.uint8),
            b"filenames": [f"{i}.png".encode() for i in range(len(labels))],
        }

    for name, seed in (("data_batch_1", 0), ("test_batch", 100)):
        (root / name).write_bytes(pickle.dumps(batch(seed), protocol=2))
    meta = {
        b"label_names": [n.encode() for n in names],
        b"num_cases_per_batch": per_class * len(names),
        b"num_vis": 3072,
    }
    (root / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def make_video(
    segments: list[tuple[tuple[int, int, int], float]],
    *,
    fps: int = 10,
    container: str = "mp4",
    codec: str = "libx264",
    width: int = 64,
    height: int = 48,
) -> bytes:
    """A video of solid-colour stretches: [(rgb, seconds), ...]."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        index = 0
        for rgb, seconds in segments:
            for _ in range(round(seconds * fps)):
                frame = av.VideoFrame.from_ndarray(solid(rgb, width=width, height=height))
                frame.pts = index
                frame.time_base = Fraction(1, fps)
                for packet in stream.encode(frame):
                    output.mux(packet)
                index += 1
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def colour_set(*, per_class: int = 12, size: int = 16, seed: int = 0) -> Any:
    from training.vision_data import ImageSet

    images, labels = [], []
    for label, name in enumerate(COLOURS):
        for i in range(per_class):
            images.append(colour_image(name, size=size, seed=seed + 1000 * label + i))
            labels.append(label)
    return ImageSet(
        name="colours",
        images=np.stack(images),
        labels=np.asarray(labels),
        classes=list(COLOURS),
        flip=True,
    )


def tiny_config(**overrides: Any) -> Any:
    """A ResNet-18 of width 4 on 16×16 inputs, a few epochs: seconds on a CPU."""
    from training.vision import TrainConfig

    fields: dict[str, Any] = {"epochs": 10, "batch_size": 16, "lr": 0.05, "width": 4}
    return TrainConfig(**{**fields, "input_size": 16, **overrides})


@lru_cache(maxsize=1)
def trained_colour_model() -> Any:
    """A ResNet-18 (width 4, 16×16 input) trained for a few epochs on generated colour images:
    trained once per process, reused by every test that needs a model."""
    from training.vision import train_and_export

    return train_and_export(colour_set(), config=tiny_config(), progress=False)


def colour_onnx(*, size: int = 8, scale: float = 12.0) -> tuple[bytes, dict[str, Any]]:
    """A hand-made ONNX "model" (no training, no torch): the logit of red, green and blue is the
    mean of that channel times `scale`, so a mostly-red image is `red` with a high score. With
    mean 0 and std 1 in its meta, the skill feeds it pixel values in 0-1."""
    import onnx
    from onnx import TensorProto, helper

    pixels = size * size
    weights = np.zeros((3 * pixels, 3), dtype=np.float32)
    for channel in range(3):
        weights[channel * pixels : (channel + 1) * pixels, channel] = scale / pixels
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["image"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["logits"]),
        ],
        "colours",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, weights.shape, weights.ravel())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    meta = {
        "labels": list(COLOURS),
        "input_size": size,
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "architecture": "colour-means",
    }
    return model.SerializeToString(), meta
