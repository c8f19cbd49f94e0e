"""The pure parts of vision training: metrics from predictions, the normalisation statistics, the
learning-rate schedule, the presets, and the augmentation (a random crop of the image padded
with black, mirrored only where the data allows it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.vision import (
    PRESETS,
    augment,
    channel_stats,
    classification_metrics,
    config_for,
    one_cycle,
)


def test_metrics_count_precision_recall_f1_and_confusion() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    metrics = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert metrics.accuracy == pytest.approx(4 / 6, abs=1e-6)
    assert metrics.confusion == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    a, b, c = metrics.per_class
    assert (a.precision, a.recall, a.support) == (
        pytest.approx(2 / 3, abs=1e-6),
        pytest.approx(2 / 3, abs=1e-6),
        3,
    )
    assert (b.precision, b.recall) == (pytest.approx(2 / 3, abs=1e-6), 1.0)
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)
    assert metrics.macro_f1 == pytest.approx((2 / 3 + 0.8 + 0) / 3, abs=1e-5)
    assert metrics.as_dict()["labels"] == ["a", "b", "c"]


def test_channel_stats_are_per_channel_on_unit_values() -> None:
    images = np.zeros((2, 2, 2, 3), dtype=np.uint8)
    images[0, ..., 0] = 255
    mean, std = channel_stats(images)
    assert mean == [0.5, 0.0, 0.0]
    assert std[0] == 0.5 and std[1] == std[2] == 0.001  # a constant channel is floored


def test_the_schedule_warms_up_then_anneals() -> None:
    values = [one_cycle(step, 100) for step in range(100)]
    assert values[0] == pytest.approx(0.1)
    assert max(values) == pytest.approx(1.0) and values.index(max(values)) == 25
    assert values[-1] < 0.01
    assert one_cycle(0, 1) == pytest.approx(0.1)  # any length, even a single step


def test_presets_and_overrides() -> None:
    assert PRESETS["cifar10"].width == 64
    config = config_for("digits", epochs=3, width=None)
    assert (config.epochs, config.width) == (3, PRESETS["digits"].width)
    assert config_for("unknown").epochs > 0


def _batch() -> torch.Tensor:
    return torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1


def _window(out: torch.Tensor, image: torch.Tensor, pad: float) -> str | None:
    """ "plain" or "mirrored" when `out` is an 8×8 window of `image` padded by 4 with `pad`."""
    padded = torch.full((3, 16, 16), pad)
    padded[:, 4:12, 4:12] = image
    for kind, source in (("plain", padded), ("mirrored", padded.flip(2))):
        for y in range(9):
            for x in range(9):
                if torch.equal(source[:, y : y + 8, x : x + 8], out):
                    return kind
    return None


def test_augmentation_crops_a_window_of_the_black_padded_image() -> None:
    batch = _batch()
    generator = torch.Generator().manual_seed(0)
    pad = torch.tensor([-1.0, -1.0, -1.0])
    kinds = set()
    for _ in range(8):
        out = augment(batch, pad_value=pad, flip=True, generator=generator)
        assert out.shape == batch.shape
        for i in range(2):
            kinds.add(_window(out[i], batch[i], -1.0))
    assert kinds == {"plain", "mirrored"}  # every output is a window; about half are mirrored


def test_without_flips_no_output_is_mirrored() -> None:
    batch = _batch()
    generator = torch.Generator().manual_seed(1)
    pad = torch.zeros(3)
    for _ in range(10):
        out = augment(batch, pad_value=pad, flip=False, generator=generator)
        for i in range(2):
            assert _window(out[i], batch[i], 0.0) == "plain"
