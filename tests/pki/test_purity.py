"""Tests that the PKI core stays independent of Home Assistant and of the clock."""

import ast
from pathlib import Path

import pytest

PKI_DIR = Path(__file__).parents[2] / "custom_components" / "home_pki" / "pki"
MODULES = sorted(PKI_DIR.glob("*.py"))
CLOCK_READS = {"now", "utcnow", "today", "fromtimestamp"}
TIME_MODULE_READS = {"time", "time_ns", "monotonic"}


def test_modules_found() -> None:
    """The walk below sees the whole package."""
    assert {path.name for path in MODULES} >= {
        "__init__.py",
        "authority.py",
        "errors.py",
        "inspect.py",
        "keys.py",
        "policy.py",
        "revocation.py",
        "schedule.py",
        "store.py",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_no_home_assistant_import(path: Path) -> None:
    """No module of the PKI core imports anything from homeassistant."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.append(node.module)
    assert not [name for name in imported if name.startswith("homeassistant")]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_no_clock_read(path: Path) -> None:
    """Time is an argument: no module reads the clock itself."""
    tree = ast.parse(path.read_text(), filename=str(path))
    reads = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and (
            node.func.attr in CLOCK_READS
            or (
                node.func.attr in TIME_MODULE_READS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "time"
            )
        )
    ]
    assert reads == []


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_docstrings_everywhere(path: Path) -> None:
    """Every module, class and function has a docstring."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = [tree] + [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    assert [
        getattr(node, "name", path.name)
        for node in nodes
        if ast.get_docstring(node) is None
    ] == []
