"""Which project modules an entry point can reach: every `import` statement of every reachable
module, function-local ones included (they run later, on some request, and must be shipped just
the same), followed from the entry module through the project's packages. Static analysis only:
nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("api", "core", "infra", "skills", "cli", "knowledge", "training", "workers", "devtools")


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The source file of a project module (a package's `__init__.py`), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # maybe submodules
    return found


def reachable(entry: str, root: Path = ROOT) -> set[str]:
    """The project modules `entry` reaches (itself and every parent package included)."""
    seen: set[str] = set()
    queue = [entry]
    while queue:
        module = queue.pop()
        if module in seen or module.split(".")[0] not in PROJECT:
            continue
        path = module_file(module, root)
        if path is None:
            continue  # `from pkg import name` where name is not a module
        seen.add(module)
        parts = module.split(".")
        queue.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        queue.extend(_imported(module, path))
    return seen
