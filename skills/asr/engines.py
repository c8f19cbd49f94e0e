"""The two speech-recognition engines behind one interface.

- `FasterWhisperEngine`: CTranslate2, int8, `cpu_threads=2` (the default engine).
- `OpenAIWhisperEngine`: openai-whisper on torch, from a checkpoint converted once from the same
  CTranslate2 weights (`skills.asr.convert`).

Both take 16 kHz mono float32 samples that are already trimmed of silence and decode the same way
(temperature 0 first, greedy or beam search, no conditioning on previous text), so the same clip
gives the same transcript. Loaded engines are cached per (engine, model, cache dir).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ENGINES = ("faster-whisper", "openai-whisper")


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str


class AsrEngine(Protocol):
    name: str
    model: str

    def transcribe(
        self, samples: np.ndarray, *, language: str | None, beam_size: int
    ) -> Transcript: ...


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, model: str, *, cache_dir: Path, cpu_threads: int = 2) -> None:
        from faster_whisper import WhisperModel

        from skills.asr.models import ct2_model_dir

        self.model = model
        self._model = WhisperModel(
            str(ct2_model_dir(model, cache_dir=cache_dir)),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        self._lock = threading.Lock()  # one decode at a time per loaded model (2 cores)

    def transcribe(
        self, samples: np.ndarray, *, language: str | None, beam_size: int
    ) -> Transcript:
        with self._lock:
            segments, info = self._model.transcribe(
                samples,
                language=language or ("en" if self.model.endswith(".en") else None),
                beam_size=beam_size,
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
            )
            text = "".join(segment.text for segment in segments)
        return Transcript(text=text.strip(), language=str(info.language or "en"))


class OpenAIWhisperEngine:
    name = "openai-whisper"

    def __init__(self, model: str, *, cache_dir: Path) -> None:
        from skills.asr.convert import ensure_openai_checkpoint, load_openai_model

        self.model = model
        self._model = load_openai_model(ensure_openai_checkpoint(model, cache_dir=cache_dir))
        self._lock = threading.Lock()

    def transcribe(
        self, samples: np.ndarray, *, language: str | None, beam_size: int
    ) -> Transcript:
        with self._lock:
            result = self._model.transcribe(
                samples,
                language=language or ("en" if self.model.endswith(".en") else None),
                beam_size=beam_size if beam_size > 1 else None,
                best_of=None,
                fp16=False,
                condition_on_previous_text=False,
                without_timestamps=True,
                verbose=None,
            )
        return Transcript(text=str(result["text"]).strip(), language=str(result["language"]))


_engines: dict[tuple[str, str, str], Any] = {}
_engines_lock = threading.Lock()


def get_engine(engine: str, model: str, *, cache_dir: Path) -> AsrEngine:
    """The loaded engine (loaded once per process, thread-safe)."""
    # tiny.en is read straight from its package: one load serves every data dir.
    key = (
        engine,
        model,
        "" if (model == "tiny.en" and engine == "faster-whisper") else str(cache_dir),
    )
    with _engines_lock:
        found = _engines.get(key)
        if found is None:
            if engine == "faster-whisper":
                found = FasterWhisperEngine(model, cache_dir=cache_dir)
            elif engine == "openai-whisper":
                found = OpenAIWhisperEngine(model, cache_dir=cache_dir)
            else:
                raise ValueError(f"unknown ASR engine {engine!r}; expected one of {ENGINES}")
            _engines[key] = found
        return found
