"""Lambda entry modules build their services at import (the init phase) from the environment of
that moment; tests that change the environment import them afresh with `fresh_import`."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from core.settings import get_settings


def fresh_import(module: str) -> ModuleType:
    """Import `module` again (never a stale copy, nor the parent package's attribute), with the
    settings cache cleared so it reads the current environment."""
    get_settings.cache_clear()
    sys.modules.pop(module, None)
    return importlib.import_module(module)


def forget(module: str) -> None:
    sys.modules.pop(module, None)
    get_settings.cache_clear()
