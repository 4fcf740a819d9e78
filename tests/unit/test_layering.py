"""The pure layers stay sans-I/O: no asyncio or socket import (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "callvault"
PURE = ("sip", "sdp", "media")
FORBIDDEN = {"asyncio", "socket", "selectors", "ssl"}
UPPER = {"engine", "transport", "web", "cli", "demo"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_do_no_io(package: str) -> None:
    files = sorted((SRC / package).glob("*.py"))
    assert files, f"no modules found in {package}"
    for path in files:
        imported = _imports(path)
        roots = {name.split(".")[0] for name in imported}
        assert not roots & FORBIDDEN, f"{path.name} imports {roots & FORBIDDEN}"
        layers = {name.split(".")[1] for name in imported if name.startswith("callvault.")}
        assert not layers & UPPER, f"{path.name} imports upper layers {layers & UPPER}"


def test_engine_does_not_import_web_or_cli() -> None:
    for path in sorted((SRC / "engine").glob("*.py")):
        layers = {n.split(".")[1] for n in _imports(path) if n.startswith("callvault.")}
        assert not layers & {"web", "cli"}, f"{path.name} imports {layers & {'web', 'cli'}}"
