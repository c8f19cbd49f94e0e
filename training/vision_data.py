"""Labelled image sets for vision training, every one as square RGB uint8 arrays of one size.

Sources (nothing is downloaded):

- `load_folder(DIR)`: one sub-folder per class of PNG/JPEG/WebP/GIF files, decoded with the
  serving code (`core.images`), so training sees what the skill will see. Bounded: files over the
  byte or pixel limits, or that do not decode, are skipped and counted; at most `max_images`.
- `load_cifar10(DIR)`: the standard CIFAR-10 python batches (`data_batch_1..5`, `test_batch`,
  `batches.meta`) from a local directory; `test_batch` is the test split.
- `load_digits_set()`: scikit-learn's 8×8 digits (1,797 images, 10 classes).
- `load_animal_mnist()`: the `animal-mnist` package's 10,000 28×28 animal silhouettes in 10
  classes (installed with `--no-deps`: its own module imports TensorFlow, so only its data files
  are read, never the module).

Pickled sources are read with an unpickler that only rebuilds numpy arrays, lists, dicts and
scalars: a crafted file cannot run code.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np

from core.errors import LambdeskError, Unprocessable
from core.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, array_to_rgb, load_image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
DEFAULT_SIZE = 32
MAX_IMAGES = 100_000  # 100k × 32×32×3 bytes = 300 MB in memory
MAX_CLASSES = 1000
CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
# The package's label order (checked against its images: 1,000 of each, alphabetical).
ANIMAL_MNIST_CLASSES = (
    "bear",
    "bird",
    "cat",
    "cow",
    "dog",
    "elephant",
    "giraffe",
    "horse",
    "sheep",
    "zebra",
)


class InvalidImageSet(Unprocessable, ValueError):
    """A data source that cannot be trained on (422 in the API, a ValueError for the CLI)."""


@dataclass
class ImageSet:
    """Images (N×S×S×3 uint8), integer labels (N) into `classes`, and an optional fixed test
    split (CIFAR-10's `test_batch`); `flip` says whether a mirror image keeps its class."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    flip: bool = True
    test: ImageSet | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[3] != 3 or self.images.dtype != np.uint8:
            raise ValueError("images must be N×S×S×3 uint8")
        if self.images.shape[1] != self.images.shape[2]:
            raise ValueError("images must be square")
        if len(self.images) != len(self.labels):
            raise ValueError("one label per image")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError("labels must index classes")

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def counts(self) -> dict[str, int]:
        counted = Counter(int(label) for label in self.labels)
        return {name: counted.get(i, 0) for i, name in enumerate(self.classes)}

    def subset(self, rows: np.ndarray | list[int]) -> ImageSet:
        index = np.asarray(rows, dtype=np.int64)
        return ImageSet(
            name=self.name,
            images=self.images[index],
            labels=self.labels[index],
            classes=list(self.classes),
            flip=self.flip,
        )


# --------------------------------------------------------------------------- safe unpickling


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and plain containers; refuses every other global."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),  # how Python 3 writes bytes into a protocol-2 pickle
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "_codecs":
            return _latin1_encode
        if name == "_reconstruct" or name == "scalar":
            from numpy._core import multiarray

            return getattr(multiarray, name)
        if name == "_frombuffer":
            from numpy._core import numeric

            return numeric._frombuffer  # type: ignore[attr-defined]
        return getattr(np, name)


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    if encoding.lower().replace("-", "") != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError("refusing _codecs.encode other than latin1 text")
    return text.encode("latin1")


def safe_unpickle(handle: BinaryIO, *, encoding: str = "ASCII") -> Any:
    try:
        return _ArrayUnpickler(handle, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidImageSet(f"not a readable data file: {exc}") from exc


# --------------------------------------------------------------------------- sources


def load_folder(
    root: Path,
    *,
    size: int = DEFAULT_SIZE,
    max_images: int = MAX_IMAGES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
) -> ImageSet:
    """One class per sub-folder (its name is the label); images in it, any depth below."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidImageSet(f"{root}: not a folder")
    classes = sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )
    if len(classes) < 2:
        raise InvalidImageSet(f"{root}: need one sub-folder per class, at least two")
    if len(classes) > MAX_CLASSES:
        raise InvalidImageSet(f"{root}: more than {MAX_CLASSES} classes")
    files: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            visible = not path.name.startswith(".")
            if path.suffix.lower() in IMAGE_SUFFIXES and visible and path.is_file():
                files.append((path, index))
    if len(files) > max_images:
        raise InvalidImageSet(f"{root}: {len(files)} images; the limit is {max_images}")
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: dict[str, int] = defaultdict(int)
    from training.progress import Progress

    with Progress(total=len(files), label="reading images", enabled=progress) as bar:
        for path, label in files:
            bar.update(1)
            if path.stat().st_size > max_bytes:
                skipped["image_too_large"] += 1
                continue
            try:
                array = load_image(
                    path.read_bytes(), size=size, max_bytes=max_bytes, max_pixels=max_pixels
                )
            except LambdeskError as exc:
                skipped[exc.code] += 1
                continue
            images.append(array)
            labels.append(label)
    if skipped and progress:
        print(f"skipped {sum(skipped.values())} files: {dict(skipped)}", file=sys.stderr)
    present = set(labels)
    if len(present) < 2:
        raise InvalidImageSet(f"{root}: need readable images in at least two classes")
    empty = [name for i, name in enumerate(classes) if i not in present]
    if empty:
        raise InvalidImageSet(f"{root}: no readable images in {', '.join(empty)}")
    return ImageSet(
        name=f"folder:{root.name}",
        images=np.stack(images),
        labels=np.asarray(labels),
        classes=classes,
        flip=True,
        skipped=dict(skipped),
    )


def _cifar_dir(directory: Path) -> Path:
    directory = Path(directory)
    nested = directory / "cifar-10-batches-py"
    return nested if nested.is_dir() else directory


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as handle:
        batch = safe_unpickle(handle, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise InvalidImageSet(f"{path.name}: not a CIFAR-10 batch (no data or labels)")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise InvalidImageSet(f"{path.name}: data must be N×3072 uint8")
    if len(labels) != len(data):
        raise InvalidImageSet(f"{path.name}: {len(data)} images but {len(labels)} labels")
    # rows are 1024 red, then 1024 green, then 1024 blue values (row-major 32×32 planes)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(directory: Path, *, size: int = DEFAULT_SIZE) -> ImageSet:
    """The CIFAR-10 python batches in `directory` (or its `cifar-10-batches-py` folder)."""
    folder = _cifar_dir(directory)
    meta_path = folder / "batches.meta"
    if not meta_path.is_file():
        raise InvalidImageSet(f"{folder}: no batches.meta (expected the CIFAR-10 python batches)")
    with meta_path.open("rb") as handle:
        meta = safe_unpickle(handle, encoding="bytes")
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) < 2:
        raise InvalidImageSet("batches.meta: no label_names")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    present = [folder / name for name in CIFAR10_BATCHES if (folder / name).is_file()]
    if not present:
        raise InvalidImageSet(f"{folder}: no data_batch_1..5")
    parts = [_read_cifar_batch(path) for path in present]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    test: ImageSet | None = None
    if (folder / "test_batch").is_file():
        test_images, test_labels = _read_cifar_batch(folder / "test_batch")
        test = ImageSet(
            name="cifar10-test",
            images=_resize_all(test_images, size),
            labels=test_labels,
            classes=classes,
        )
    return ImageSet(
        name="cifar10",
        images=_resize_all(images, size),
        labels=labels,
        classes=classes,
        flip=True,
        test=test,
    )


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1:3] == (size, size) and images.ndim == 4:
        return np.ascontiguousarray(images, dtype=np.uint8)
    return np.stack([array_to_rgb(image, size) for image in images])


def load_digits_set(*, size: int = DEFAULT_SIZE) -> ImageSet:
    """scikit-learn's digits (8×8, 17 grey levels) scaled to 0-255 and resized to `size`.
    No flips: a mirrored digit is another symbol (or another digit)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    grey = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return ImageSet(
        name="digits",
        images=_resize_all(grey, size),
        labels=np.asarray(digits.target, dtype=np.int64),
        classes=[str(i) for i in range(10)],
        flip=False,
    )


def animal_mnist_dir() -> Path:
    """The data folder of the installed `animal-mnist` package (its module is never imported)."""
    spec = importlib.util.find_spec("animal_mnist")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidImageSet(
            "animal-mnist is not installed: pip install --no-deps animal-mnist==0.4"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "Animal_MNIST"


def load_animal_mnist(*, size: int = DEFAULT_SIZE) -> ImageSet:
    folder = animal_mnist_dir()
    with gzip.open(folder / "animal_data_version_3.gz", "rb") as handle:
        images = np.asarray(safe_unpickle(handle))  # type: ignore[arg-type]
    with gzip.open(folder / "animal_label_version_3.gz", "rb") as handle:
        labels = np.asarray(safe_unpickle(handle), dtype=np.int64)  # type: ignore[arg-type]
    if images.dtype != np.uint8 or images.ndim != 3 or len(images) != len(labels):
        raise InvalidImageSet("animal-mnist: unexpected data layout")
    return ImageSet(
        name="animal-mnist",
        images=_resize_all(images, size),
        labels=labels,
        classes=list(ANIMAL_MNIST_CLASSES),
        flip=True,
    )


def stratified_split(
    labels: np.ndarray, *, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indexes: `fraction` of each class held out (at least one for a
    class with two or more rows, none for a class with one: it must be trained on)."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    heldout: list[int] = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rng.shuffle(rows)
        k = round(len(rows) * fraction)
        if k == 0 and len(rows) >= 2 and fraction > 0:
            k = 1
        heldout.extend(rows[:k].tolist())
        train.extend(rows[k:].tolist())
    return np.asarray(sorted(train), dtype=np.int64), np.asarray(sorted(heldout), dtype=np.int64)
