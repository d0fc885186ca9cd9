import json
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_margin_report_btc_long_worked_example(capsys):
    assert (
        main(
            [
                "margin",
                "report",
                "--account",
                str(ROOT / "config/examples/account-btc-long.toml"),
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["equity"] == "10000.00000000" and data["headroom"] == "7500.00000000"
    assert (
        data["initial_margin"] == "2500.00000000" and data["maintenance_margin"] == "1250.00000000"
    )
    (pos,) = data["positions"]
    assert pos["liquidation_price"] == "91139.24" and pos["notional"] == "100000.00000000"
    assert data["capital_efficiency"] == {
        "cross_requirement": "2500.00000000",
        "isolated_requirement": "2500.00000000",
        "saving": "0.00000000",
    }


def test_margin_report_basis_trade(capsys):
    assert (
        main(
            [
                "margin",
                "report",
                "--account",
                str(ROOT / "config/examples/account-basis.toml"),
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["equity"] == "27000.00000000" and data["maintenance_margin"] == "750.00000000"
    assert data["positions"][0]["liquidation_price"] == "5581.40"  # docs/margin.md example 2
    # netting (docs/margin.md example 2): alone, the short's IM 1,500 + the spot's haircut 3,000;
    # netted, 10 ETH long against 10 ETH short at the same mark leaves nothing to margin
    assert data["capital_efficiency"] == {
        "cross_requirement": "0.00000000",
        "isolated_requirement": "4500.00000000",
        "saving": "4500.00000000",
    }


def test_margin_report_short_and_isolated(tmp_path, capsys):
    f = tmp_path / "a.toml"
    f.write_text(
        '[collateral]\nUSDC = "10000"\n[[positions]]\nsymbol = "BTC-PERP"\nsize = "-1"\n'
        'entry = "100000"\nmark = "100000"\ntiers = [{ notional_from = "0", max_leverage = 40 }]\n'
        'mode = "isolated"\nisolated_margin = "10000"\n'
    )
    assert main(["margin", "report", "--account", str(f), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["positions"][0]["liquidation_price"] == "108641.98"


def test_margin_report_human_view_prints_tables(capsys):
    assert (
        main(["margin", "report", "--account", str(ROOT / "config/examples/account-basis.toml")])
        == 0
    )
    out = capsys.readouterr().out
    assert "cross_requirement" in out and "ETH-PERP" in out


def test_bad_account_files_exit_2_with_one_line(tmp_path, capsys):
    cases = {
        "unknown.toml": "oops = 1\n",
        "size.toml": '[collateral]\nUSDC = "1"\n[[positions]]\nsymbol = "X-PERP"\nsize = "nan"\nentry = "1"\nmark = "1"\nmax_leverage = 5\n',
        "lev.toml": '[collateral]\nUSDC = "1"\n[[positions]]\nsymbol = "X-PERP"\nsize = "1"\nentry = "1"\nmark = "1"\nmax_leverage = 500\n',
        "mark.toml": '[collateral]\nETH = "1"\n',
        "syntax.toml": "[collateral\n",
    }
    for name, text in cases.items():
        f = tmp_path / name
        f.write_text(text)
        assert main(["margin", "report", "--account", str(f), "--json"]) == 2, name
        err = capsys.readouterr().err
        assert err.startswith("crossroute: error:") and err.count("\n") == 1, (name, err)
    assert main(["margin", "report", "--account", str(tmp_path / "missing.toml"), "--json"]) == 2


def test_margin_port_keeps_entry_and_reports_both_subaccounts(capsys):
    account = str(ROOT / "config/examples/account-stress-long.toml")
    args = ["margin", "port", "--account", account, "--symbol", "ETH-PERP", "--size", "10"]
    assert main([*args, "--fund", "USDC=2000"]) == 0
    data = json.loads(capsys.readouterr().out)
    (moved,) = data["destination"]["positions"]
    assert (moved["symbol"], moved["size"], moved["entry"]) == (
        "ETH-PERP",
        "10.00000000",
        "3000.00000000",
    )
    assert data["destination"]["initial_margin"] == "1500.00000000"
    eth = [p for p in data["source"]["positions"] if p["symbol"] == "ETH-PERP"]
    assert eth[0]["size"] == "30.00000000"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ([], "headroom violated: required 1500.00000000 USDC, available 0.00000000 USDC"),
        (["--fund", "USDC"], "--fund"),
        (["--fund", "USDC=1e3"], "--fund"),
    ],
)
def test_margin_port_bad_input_is_one_line_exit_2(capsys, extra, fragment):
    account = str(ROOT / "config/examples/account-stress-long.toml")
    args = ["margin", "port", "--account", account, "--symbol", "ETH-PERP", "--size", "10"]
    assert main([*args, *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and fragment in err and err.count("\n") == 1


def test_margin_transfer_moves_collateral(capsys):
    account = str(ROOT / "config/examples/account-stress-long.toml")
    args = ["margin", "transfer", "--account", account, "--asset", "USDC", "--amount", "1000"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["destination"]["equity"] == "1000.00000000"
    assert data["source"]["equity"] == "29000.00000000"
    assert main([*args[:-1], "1e3"]) == 2
    assert "--amount" in capsys.readouterr().err


POSITION = '[[positions]]\nsymbol = "ETH-PERP"\nsize = "1"\nentry = "3000"\nmark = "3000"\nmax_leverage = 10\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('quote = "usd t"\n', "quote = 'usd t' is invalid"),
        (
            '[collateral]\nUSDC = "1000"\nETH = "1"\n[marks]\nETH = "3000"\n'
            '[collateral_weights.ETH]\ninitial = "0.9"\nborrow_cap = "5"\n',
            "collateral_weights.ETH.borrow_cap",
        ),
        (
            '[collateral]\nUSDC = "1000"\nETH = "-1"\n[marks]\nETH = "3000"\n'
            '[collateral_weights.ETH]\ninitial_liability = "0.5"\n',
            "initial_liability",
        ),
        ('[collateral]\nUSDC = "1000"\n' + POSITION + 'funding_cap = "-0.1"\n', "funding_cap"),
        (
            '[collateral]\nUSDC = "1000"\n' + POSITION + "funding_interval_hours = 9\n",
            "funding_interval_hours",
        ),
    ],
)
def test_bad_margin_asset_and_funding_terms_exit_2_naming_the_key(tmp_path, capsys, text, key):
    """The account file's margin asset, borrow terms and funding terms (what `stress --fills
    --at` writes) are refused with one line naming the key, and nothing is reported."""
    f = tmp_path / "account.toml"
    f.write_text(text)
    assert main(["margin", "report", "--account", str(f), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert key in err, err
