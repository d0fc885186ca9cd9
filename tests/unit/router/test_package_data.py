"""The files crossroute reads at run time ship inside the package (pyproject package-data), and
the copies users see at the top level are the same bytes."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from router.app import DEFAULT_CONFIG
from router.commands.stress import DEFAULT_SCENARIOS
from router.paper.api import OPENAPI_PATH, WEB_DIR

ROOT = Path(__file__).resolve().parents[3]


def _package_data() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["setuptools"]["package-data"]


def _shipped(path: Path) -> bool:
    """Whether a package-data glob of the package holding ``path`` matches it."""
    for package, globs in _package_data().items():
        folder = ROOT.joinpath(*package.split("."))
        if folder in path.parents:
            relative = path.relative_to(folder).as_posix()
            if any(fnmatch(relative, glob) for glob in globs):
                return True
    return False


def test_embedded_default_market_is_the_top_level_config() -> None:
    assert DEFAULT_CONFIG.read_bytes() == (ROOT / "config" / "default.toml").read_bytes()


def test_embedded_stress_scenarios_are_the_example_file() -> None:
    example = ROOT / "config" / "examples" / "stress-scenarios.toml"
    assert DEFAULT_SCENARIOS.read_bytes() == example.read_bytes()


def test_every_runtime_file_is_package_data() -> None:
    runtime = [DEFAULT_CONFIG, DEFAULT_SCENARIOS, OPENAPI_PATH, *WEB_DIR.iterdir()]
    assert len(runtime) > 4  # the web page has files
    missing = [str(path.relative_to(ROOT)) for path in runtime if not _shipped(path)]
    assert missing == []
