"""One TOML file reader (router.config.read_toml) behind every loader, with the same errors."""

from pathlib import Path

import pytest

from router.backtest.engine import load_spec
from router.backtest.sweep import load_grid
from router.config import FILE_KEY, SYNTAX_KEY, load_config, read_toml
from router.execution.order import load_order
from router.margin.report import load_account
from router.model.errors import ConfigError
from router.sim.errors import BacktestError
from router.stress.engine import load_portfolio
from router.stress.scenarios import load_scenarios

LOADERS = [load_config, load_order, load_account, load_scenarios, load_portfolio, read_toml]


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    syntax = tmp_path / "syntax.toml"
    syntax.write_text("[order\nx = 1\n", encoding="utf-8")
    latin = tmp_path / "latin1.toml"
    latin.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    return {
        "missing": (tmp_path / "missing.toml", FILE_KEY),
        "directory": (tmp_path, FILE_KEY),
        "not utf-8": (latin, FILE_KEY),
        "syntax": (syntax, SYNTAX_KEY),
    }


def test_read_toml_parses_a_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[a]\nb = "1.5"\nc = [1, 2]\n', encoding="utf-8")
    assert read_toml(good) == read_toml(str(good)) == {"a": {"b": "1.5", "c": [1, 2]}}


@pytest.mark.parametrize("case", ["missing", "directory", "not utf-8", "syntax"])
@pytest.mark.parametrize("loader", LOADERS, ids=[f.__name__ for f in LOADERS])
def test_every_loader_maps_file_and_syntax_errors_alike(tmp_path: Path, loader, case: str) -> None:
    path, key = _bad_files(tmp_path)[case]
    with pytest.raises(ConfigError) as info:
        loader(path)
    assert info.value.file == str(path) and info.value.key == key
    if key == FILE_KEY:
        assert info.value.value == str(path) and info.value.allowed.startswith(
            "a readable UTF-8 TOML file ("
        )
    else:
        assert "line 1" in info.value.value and info.value.allowed == "valid TOML"


@pytest.mark.parametrize("value", [None, 3, b"x.toml", ["x.toml"]])
def test_read_toml_refuses_a_non_path(value) -> None:
    with pytest.raises(ConfigError) as info:
        read_toml(value)
    assert info.value.key == FILE_KEY and info.value.value == value


@pytest.mark.parametrize("loader, field", [(load_spec, "config"), (load_grid, "sweep")])
@pytest.mark.parametrize("case", ["missing", "not utf-8", "syntax"])
def test_backtest_loaders_keep_their_own_error_type(
    tmp_path: Path, loader, field: str, case: str
) -> None:
    path, key = _bad_files(tmp_path)[case]
    with pytest.raises(BacktestError) as info:
        loader(path)
    assert info.value.field == field and info.value.value == str(path)
    assert ("readable" if key == FILE_KEY else "valid TOML") in info.value.allowed
