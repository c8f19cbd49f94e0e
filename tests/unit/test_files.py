"""`atomic_path`: the target changes all at once or not at all, and no temporary file stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.files import atomic_path


def test_success_replaces_the_target(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "model.bin"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent and temporary != target
        temporary.write_bytes(b"new")
        assert not target.exists()  # nothing visible before the write completes
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["model.bin"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target, prefix=".tmp-") as temporary:
        assert temporary.name.startswith(".tmp-")
        temporary.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]
