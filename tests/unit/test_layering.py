"""Imports point one way (DESIGN.md): venues <- adapters <- router's wiring; the router core sees
venues only through the adapter protocol."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("venues", "adapters", "router")
# The router's core (DESIGN.md: depth, split, margin, execution, and the value types they share)
# sees venues only through the adapter protocol. The application layers above it (app.py, the
# command line, paper trading, backtests, stress) build concrete venues and may name them.
CORE = (
    "router/depth.py",
    "router/split.py",
    "router/plan.py",
    "router/orders.py",
    "router/errors.py",
    "router/execution.py",
    "router/exec_",
    "router/journal.py",
    "router/margin/",
)
# The error root lives in the bottom layer so every layer's errors share it; router/errors.py is
# the one router module that names it.
ERROR_ROOT = "venues.errors"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return [name for name in names if name.split(".")[0] in OURS]


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("venues"), ids=lambda p: str(p.relative_to(ROOT)))
def test_venues_import_only_venues(path: Path) -> None:
    assert all(name.split(".")[0] == "venues" for name in _imports(path)), _imports(path)


@pytest.mark.parametrize("path", _sources("adapters"), ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_do_not_import_router_wiring(path: Path) -> None:
    bad = [
        n for n in _imports(path) if n.startswith(("router.app", "router.cli", "router.commands"))
    ]
    assert not bad


@pytest.mark.parametrize("path", _sources("router"), ids=lambda p: str(p.relative_to(ROOT)))
def test_router_core_never_imports_venues_or_adapters(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    if not relative.startswith(CORE):
        return
    allowed = {ERROR_ROOT} if relative == "router/errors.py" else set()
    bad = [
        n for n in _imports(path) if n.split(".")[0] in ("venues", "adapters") and n not in allowed
    ]
    assert not bad, f"{relative} imports {bad}"


def test_every_error_derives_from_the_single_root() -> None:
    import router.errors as errors
    from venues.errors import CrossrouteError

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), CrossrouteError)
