"""The ONNX Runtime encoder against the sentence-transformers reference, on real customer
questions: the export from the packaged weights gives the same vectors, so models trained with
one backend serve with the other."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from skills.encoder import TorchEncoder
from skills.onnx_encoder import OnnxEncoder, export_onnx

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tmp_path_factory.mktemp("encoder") / "minilm.onnx")


def test_onnx_export_matches_sentence_transformers(onnx_path: Path) -> None:
    with (ROOT / "demo" / "banking77" / "test.csv").open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][:64]
    texts.append("word " * 400)  # longer than the model's 256-token window: truncated alike
    reference = TorchEncoder(threads=2).encode(texts)
    onnx = OnnxEncoder(onnx_path, threads=2).encode(texts)
    assert onnx.shape == reference.shape == (65, 384)
    assert onnx.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert np.abs(onnx - reference).max() < 1e-4
    # one text alone (no padding) gives the same vector as inside a padded batch
    assert np.abs(OnnxEncoder(onnx_path, threads=1).encode(texts[:1])[0] - onnx[0]).max() < 1e-4
    assert [p.name for p in onnx_path.parent.iterdir()] == ["minilm.onnx"]  # no temporary left
