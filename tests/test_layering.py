"""Data flows one way (docs/architecture.md): each package imports only those to its left, and the
screen only the snapshot and message contracts. Read from the source, so a stray import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import netscope

PACKAGE = Path(netscope.__file__).parent

# package -> what it may import besides itself
ALLOWED = {
    "capture": {"netscope.linktypes", "netscope.paths"},
    "parse": {"netscope.capture", "netscope.linktypes"},
    "flow": {"netscope.capture", "netscope.parse"},
    "analysis": {"netscope.capture", "netscope.parse", "netscope.flow"},
    "ui": {"netscope.engine.snapshot", "netscope.engine.messages", "netscope.engine.signals",
           "netscope.flow.records", "netscope.flow.query", "netscope.analysis.alerts", "netscope.analysis.names",
           "netscope.linktypes"},
}


def imports_of(package: str) -> dict[str, set[str]]:
    """module path -> the netscope modules it imports."""
    found = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("netscope"):
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names if alias.name.startswith("netscope"))
        found[str(path.relative_to(PACKAGE))] = names
    return found


def allowed(name: str, package: str) -> bool:
    own = f"netscope.{package}"
    return name == own or name.startswith(own + ".") or any(
        name == rule or name.startswith(rule + ".") for rule in ALLOWED[package])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_lies_upstream(package: str) -> None:
    stray = {module: sorted(n for n in names if not allowed(n, package))
             for module, names in imports_of(package).items()}
    assert not {module: names for module, names in stray.items() if names}


def test_only_the_launcher_imports_the_screen() -> None:
    for package in ("capture", "parse", "flow", "analysis", "engine", "pipeline", "export"):
        for module, names in imports_of(package).items():
            assert not [n for n in names if n.startswith("netscope.ui")], module
