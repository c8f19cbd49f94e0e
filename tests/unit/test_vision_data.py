"""Vision data sources: a folder of labelled images (bounded, bad files skipped), a tiny file in
the CIFAR-10 python format, the packaged sets, the safe unpickler and the held-out split."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.vision_fixtures import COLOURS, png_header_only, write_colour_folder, write_tiny_cifar
from training.vision_data import (
    ImageSet,
    InvalidImageSet,
    load_animal_mnist,
    load_cifar10,
    load_digits_set,
    load_folder,
    safe_unpickle,
    stratified_split,
)


def test_a_folder_gives_one_class_per_sub_folder(tmp_path: Path) -> None:
    root = write_colour_folder(tmp_path / "images", per_class=4)
    data = load_folder(root, size=16)
    assert data.classes == sorted(COLOURS)
    assert data.images.shape == (12, 16, 16, 3)
    assert data.counts() == {"blue": 4, "green": 4, "red": 4}
    red = data.images[data.labels == data.classes.index("red")]
    assert (red[..., 0].mean(axis=(1, 2)) > red[..., 2].mean(axis=(1, 2))).all()


def test_bad_files_in_a_folder_are_skipped_and_counted(tmp_path: Path) -> None:
    root = write_colour_folder(tmp_path / "images", per_class=2)
    (root / "red" / "notes.png").write_bytes(b"not an image at all")
    (root / "red" / "bomb.png").write_bytes(png_header_only(50_000, 50_000))
    (root / "green" / "half.png").write_bytes((root / "green" / "0.png").read_bytes()[:40])
    (root / "blue" / "big.png").write_bytes(b"\x89PNG" + bytes(50_000))
    (root / "blue" / "readme.txt").write_text("ignored: not an image suffix")
    data = load_folder(root, size=8, max_bytes=20_000)
    assert len(data.labels) == 6
    assert data.skipped == {
        "unsupported_image": 1,
        "image_too_many_pixels": 1,
        "undecodable_image": 1,
        "image_too_large": 1,
    }


def test_a_folder_needs_two_classes_with_images(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    with pytest.raises(InvalidImageSet):
        load_folder(tmp_path, size=8)
    root = write_colour_folder(tmp_path / "images", per_class=1)
    (root / "empty").mkdir()
    with pytest.raises(InvalidImageSet, match="empty"):
        load_folder(root, size=8)
    with pytest.raises(InvalidImageSet, match="limit"):
        load_folder(write_colour_folder(tmp_path / "more", per_class=2), size=8, max_images=5)


def test_the_cifar_format_is_read_with_its_test_split(tmp_path: Path) -> None:
    root = write_tiny_cifar(tmp_path / "cifar-10-batches-py", per_class=3)
    data = load_cifar10(tmp_path)  # the parent folder works too
    assert data.classes == list(COLOURS)
    assert data.images.shape == (9, 32, 32, 3)
    assert data.test is not None and data.test.images.shape == (9, 32, 32, 3)
    # channel planes land in the right place: the red class is red
    red = data.images[data.labels == 0].mean(axis=(0, 1, 2))
    assert red[0] > 150 and red[1] < 100 and red[2] < 100
    assert load_cifar10(root, size=16).images.shape == (9, 16, 16, 3)


def test_cifar_without_its_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidImageSet, match=r"batches\.meta"):
        load_cifar10(tmp_path)
    root = write_tiny_cifar(tmp_path / "c")
    os.remove(root / "data_batch_1")
    with pytest.raises(InvalidImageSet, match="data_batch"):
        load_cifar10(root)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_the_unpickler_only_rebuilds_arrays() -> None:
    safe = pickle.dumps({b"data": np.arange(6, dtype=np.uint8), b"labels": [1, 2]})
    assert safe_unpickle(io.BytesIO(safe), encoding="bytes")[b"labels"] == [1, 2]
    with pytest.raises(InvalidImageSet, match="refusing"):
        safe_unpickle(io.BytesIO(pickle.dumps(_Exploit())))


def test_a_crafted_cifar_batch_cannot_run_code(tmp_path: Path) -> None:
    root = write_tiny_cifar(tmp_path / "c")
    (root / "data_batch_1").write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(InvalidImageSet):
        load_cifar10(root)


def test_digits_are_grey_32px_and_never_flipped() -> None:
    data = load_digits_set()
    assert data.images.shape == (1797, 32, 32, 3)
    assert data.classes == [str(i) for i in range(10)]
    assert data.flip is False
    assert (data.images[..., 0] == data.images[..., 2]).all()
    assert data.images.max() == 255


def test_animal_mnist_ships_ten_balanced_classes() -> None:
    pytest.importorskip("sklearn")
    data = load_animal_mnist(size=28)
    assert data.images.shape == (10_000, 28, 28, 3)
    assert set(data.counts().values()) == {1000}
    assert data.classes[0] == "bear" and data.classes[-1] == "zebra"


def test_the_held_out_split_is_stratified_and_seeded() -> None:
    labels = np.array([0] * 10 + [1] * 5 + [2] * 2 + [3])
    train, held = stratified_split(labels, fraction=0.2, seed=3)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(labels)))
    assert sorted(labels[held].tolist()) == [0, 0, 1, 2]  # the single 3 stays in training
    again = stratified_split(labels, fraction=0.2, seed=3)
    assert (again[0] == train).all() and (again[1] == held).all()


def test_an_image_set_checks_its_arrays() -> None:
    with pytest.raises(ValueError):
        ImageSet(name="x", images=np.zeros((2, 4, 4, 3)), labels=np.array([0, 1]), classes=["a"])
    with pytest.raises(ValueError):
        ImageSet(
            name="x",
            images=np.zeros((2, 4, 4, 3), dtype=np.uint8),
            labels=np.array([0, 1]),
            classes=["a"],
        )
