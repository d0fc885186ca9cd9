"""`crossroute stress`: JSON and table output, the PNG, determinism, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASIS = str(ROOT / "config/examples/account-basis.toml")

SMALL = """
[[scenarios]]
name = "eth-15"
shocks = { ETH = "-0.15" }

[[scenarios]]
name = "eth+25"
shocks = { ETH = "0.25" }

[monte_carlo]
paths = 200
steps = 5
vol = { ETH = "0.015" }
"""


@pytest.fixture()
def scenarios(tmp_path: Path) -> str:
    path = tmp_path / "s.toml"
    path.write_text(SMALL)
    return str(path)


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["stress", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report_has_scenarios_tails_and_is_deterministic(capsys, scenarios: str) -> None:
    code, out, err = run(
        capsys, "--account", BASIS, "--scenarios", scenarios, "--json", "--seed", "5"
    )
    assert code == 0, err
    data = json.loads(out)
    assert [s["name"] for s in data["scenarios"]] == ["eth-15", "eth+25"]
    squeeze = data["scenarios"][1]
    assert squeeze["cross"]["liquidations"] == []  # the hedge nets inside cross margin
    assert len(squeeze["isolated"]["liquidations"]) == 1  # the isolated short is liquidated alone
    assert data["isolated_extra_capital"] == "1500.00000000"
    mc = data["monte_carlo"]
    assert mc["paths"] == 200 and mc["seed"] == 5
    assert mc["cross"]["es"] == "0E-8" or mc["cross"]["es"] == "0.00000000"
    assert float(mc["isolated"]["es"]) > 0
    again = run(capsys, "--account", BASIS, "--scenarios", scenarios, "--json", "--seed", "5")[1]
    assert again == out


def test_table_and_plot(capsys, scenarios: str, tmp_path: Path) -> None:
    png = tmp_path / "loss.png"
    code, out, err = run(
        capsys, "--account", BASIS, "--scenarios", scenarios, "--paths", "50", "--plot", str(png)
    )
    assert code == 0, err
    assert "eth+25" in out and "VaR 99%" in out and "isolated" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_scenarios_file_runs(capsys) -> None:
    code, out, err = run(capsys, "--account", BASIS, "--paths", "20", "--json")
    assert code == 0, err
    names = [s["name"] for s in json.loads(out)["scenarios"]]
    assert "crash-and-rebound" in names and "stale-oracle-in-crash" in names


@pytest.mark.parametrize(
    "text, needle",
    [
        ('[[scenarios]]\nname = "x"\nshocks = { DOGE = "-0.1" }\n', "DOGE"),
        ('[[scenarios]]\nname = "x"\nshocks = { ETH = "-1.2" }\n', "-100%"),
        ("scenarios = []\n", "at least one"),
        (
            '[[scenarios]]\nname = "x"\nshocks = { ETH = "0" }\nliquidity = { nowhere = "0.5" }\n',
            "nowhere",
        ),
    ],
)
def test_bad_scenarios_exit_2_with_one_line(capsys, tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run(capsys, "--account", BASIS, "--scenarios", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err


def test_bad_account_and_plot_without_monte_carlo(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--account", str(tmp_path / "missing.toml"))
    assert code == 2 and "readable" in err
    path = tmp_path / "s.toml"
    path.write_text('[[scenarios]]\nname = "x"\nshocks = { ETH = "0" }\n')
    code, _, err = run(
        capsys, "--account", BASIS, "--scenarios", str(path), "--plot", str(tmp_path / "p.png")
    )
    assert code == 2 and "monte_carlo" in err
    code, _, err = run(capsys, "--account", BASIS, "--paths", "0")
    assert code == 2 and "--paths" in err
