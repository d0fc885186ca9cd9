"""`crossroute margin report --rules`: an account margined by a venue's published rule set, the
presets being the shipped config/venues files; the docs' worked examples from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = str(ROOT / "config/examples/account-btc.toml")  # 1 BTC long at 100,000, no rule set


def _report(capsys, *args: str) -> dict:
    assert main(["margin", "report", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "rules, initial, maintenance, liquidation",
    [
        ("hyperliquid", "2500", "1250", "91139.24"),  # 40x: MM = N / 80
        ("dydx", "2000", "1200", "91093.11"),  # Large-Cap: IMF 2%, MMF 1.2%
        ("binance", "1000", "450", "90402.01"),  # bracket 2: 100x, 0.5%, amount 50
        (str(ROOT / "config/venues/dydx.toml"), "2000", "1200", "91093.11"),  # a config path
    ],
)
def test_the_worked_examples_under_each_venues_rules(
    capsys, rules, initial, maintenance, liquidation
) -> None:
    data = _report(capsys, "--account", ACCOUNT, "--rules", rules)
    assert (data["initial_margin"], data["maintenance_margin"]) == (
        f"{initial}.00000000",
        f"{maintenance}.00000000",
    )
    (position,) = data["positions"]
    assert position["liquidation_price"] == liquidation


def test_a_positions_own_rule_set_wins_over_the_rules(capsys) -> None:
    own = str(ROOT / "config/examples/account-btc-long.toml")  # max_leverage = 40 in the file
    assert _report(capsys, "--account", own, "--rules", "dydx") == _report(capsys, "--account", own)


@pytest.mark.parametrize(
    "args, named",
    [
        ([], "exactly one rule set"),  # no rules anywhere
        (["--rules", str(ROOT / "config/default.toml")], "a symbol of the rules ['ETH-PERP']"),
        (["--rules", str(ROOT / "config/examples/small.toml")], "margin.markets"),
        (["--rules", "nosuch"], "nosuch"),
    ],
)
def test_an_account_the_rules_do_not_cover_is_refused_in_one_line(capsys, args, named) -> None:
    assert main(["margin", "report", "--account", ACCOUNT, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "Traceback" not in err


def test_rules_go_with_an_account_file_only(capsys, tmp_path) -> None:
    state = tmp_path / "state.json"
    code = main(["margin", "report", "--state", str(state), "--rules", "dydx"])
    assert code == 2
    assert "--rules" in capsys.readouterr().err
