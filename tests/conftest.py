"""Shared test setup: each test gets the marker of its tier folder (unit, contract, integration,
e2e), a fresh data dir so no test sees another's tenants or files, and one local AWS endpoint
(moto's server) for every test that needs DynamoDB or S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.local_aws import local_aws  # noqa: F401 - a fixture, shared by every tier

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


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of one moto server (127.0.0.1, any free port, fake credentials) shared
    by the whole test session; tests isolate themselves with fresh tables and buckets."""
    from devtools.local_stack import FAKE_CREDENTIALS, start_moto

    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        server = start_moto()
        try:
            yield server.url
        finally:
            server.stop()
