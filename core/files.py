"""Atomic file writes: a temporary file beside the target that replaces it in one `os.replace`,
so a reader (or a second process writing the same file) never sees half a file, and a failed
write leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(target: Path, *, prefix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `target` to write; on success it becomes `target`, on
    failure it is removed. `prefix` names the temporary file (default `.<target name>.`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=prefix or f".{target.name}.")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
