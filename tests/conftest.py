"""Shared test setup: each test gets the marker of its tier folder (unit, contract, integration,
e2e), and a fresh data dir so no test sees another's tenants or files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings

_TIERS = ("unit", "contract", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in _TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local settings over a temporary data dir, stdout logging off."""
    return Settings(backend="local", data_dir=tmp_path / "data", log_stdout=False, warmup=False)
