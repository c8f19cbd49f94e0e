"""Filesystem backend of `BlobStore`: one file per blob under a root directory.

Writes are atomic (a temporary file in the same directory, then `os.replace`), so a reader sees
the old bytes or the new ones, never half a file. Paths are checked to stay under the root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO

from core.files import atomic_path
from core.ports import BlobStore

COPY_CHUNK = 256 * 1024
_TMP_PREFIX = ".tmp-"


class FilesystemBlobStore(BlobStore):
    """Blobs as files under `root` (`<root>/tenants/<tenant>/<key>`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _file(self, path: str) -> Path:
        parts = path.split("/")
        if any(part in ("", ".", "..") or part.startswith(_TMP_PREFIX) for part in parts):
            raise ValueError(f"invalid blob path {path!r}")
        return self.root.joinpath(*parts)

    def _put(self, path: str, data: bytes, content_type: str) -> None:
        target = self._file(path)
        with atomic_path(target, prefix=_TMP_PREFIX) as temporary, temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    def _put_file(self, path: str, file: IO[bytes], content_type: str) -> None:
        target = self._file(path)
        with atomic_path(target, prefix=_TMP_PREFIX) as temporary, temporary.open("wb") as handle:
            shutil.copyfileobj(file, handle, COPY_CHUNK)
            handle.flush()
            os.fsync(handle.fileno())

    def _get(self, path: str) -> bytes | None:
        try:
            return self._file(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _delete(self, path: str) -> None:
        target = self._file(path)
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            target.unlink()

    def _list(self, prefix: str) -> list[str]:
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        parts = [p for p in folder.split("/") if p]
        if any(part in (".", "..") for part in parts):
            raise ValueError(f"invalid blob prefix {prefix!r}")
        base = self.root.joinpath(*parts)
        if not base.is_dir():
            return []
        found: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(_TMP_PREFIX):
                    continue
                path = name if rel_dir == "." else f"{rel_dir}/{name}"
                if path.startswith(prefix):
                    found.append(path)
        return found
