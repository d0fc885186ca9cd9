"""``crossroute route --from A --to B``: the multi-hop JSON contract on the default market, and
every bad request refused with one line on stderr and exit status 2."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.app import load_market
from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")

# ETH, USDT and WBTC form a triangle; USDC trades only against DAI: no path from ETH to USDC
ISLANDS = """
[assets]
ETH = { decimals = 18 }
USDT = { decimals = 6 }
WBTC = { decimals = 8 }
DAI = { decimals = 18 }
USDC = { decimals = 6 }

[[venues]]
name = "eth-usdt"
kind = "amm"
fee_pips = 3000
symbol = "ETH/USDT"
reserves = ["100", "300000"]

[[venues]]
name = "wbtc-usdt"
kind = "amm"
fee_pips = 3000
symbol = "WBTC/USDT"
reserves = ["10", "600000"]

[[venues]]
name = "wbtc-eth"
kind = "amm"
fee_pips = 3000
symbol = "WBTC/ETH"
reserves = ["10", "200"]

[[venues]]
name = "usdc-dai"
kind = "amm"
fee_pips = 3000
symbol = "USDC/DAI"
reserves = ["100000", "100000"]
"""


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_multihop_json_follows_the_contract_and_wins_through_usdt(capsys) -> None:
    code, out, err = run_cli(
        capsys,
        "route",
        "--config",
        DEFAULT,
        "--from",
        "ETH",
        "--to",
        "USDC",
        "--qty",
        "50",
        "--json",
    )
    assert code == 0 and err == ""
    data = json.loads(out)
    for key in (
        "from",
        "to",
        "amount_in",
        "amount_out",
        "paths",
        "duality_gap",
        "best_single_path",
    ):
        assert key in data, key
    assert (data["from"], data["to"], Decimal(data["amount_in"])) == ("ETH", "USDC", Decimal(50))
    assert Decimal(data["duality_gap"]) <= Decimal("1e-9")
    assert ["ETH", "USDT", "USDC"] in [p["assets"] for p in data["paths"]]
    assert Decimal(data["amount_out"]) > Decimal(data["best_single_path"]["amount_out"])
    total_out = Decimal(0)
    for path in data["paths"]:
        for hop in path["hops"]:
            assert set(hop) >= {"venue", "from", "to", "amount_in", "amount_out"}
        last = max(h["step"] for h in path["hops"])
        total_out += sum(Decimal(h["amount_out"]) for h in path["hops"] if h["step"] == last)
    assert total_out == Decimal(data["amount_out"])
    # a plan reads the venues and changes nothing
    again = run_cli(
        capsys,
        "route",
        "--config",
        DEFAULT,
        "--from",
        "ETH",
        "--to",
        "USDC",
        "--qty",
        "50",
        "--json",
    )
    assert again[1] == out


def test_receive_sized_route_receives_at_least_the_amount(capsys) -> None:
    code, out, err = run_cli(
        capsys, "route", "--from", "ETH", "--to", "USDC", "--to-qty", "100000", "--json"
    )
    assert code == 0 and err == ""
    data = json.loads(out)
    assert Decimal(data["amount_out"]) >= Decimal(100000)
    assert Decimal(data["amount_in"]) <= Decimal(data["best_single_path"]["amount_in"])


def test_single_symbol_route_keeps_todays_json(capsys) -> None:
    code, out, _ = run_cli(capsys, "route", "--side", "buy", "--qty", "50", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["symbol"] == "ETH/USDC"  # the first spot symbol of the default market
    assert "paths" not in data and "legs" in data


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--from", "BTC", "--to", "USDC", "--qty", "1"],
            "from='BTC' is invalid; allowed: an asset of the market's spot venues (ETH, USDC, USDT, WBTC)",
        ),
        (
            ["--from", "ETH", "--to", "DOGE", "--qty", "1"],
            "to='DOGE' is invalid; allowed: an asset of the market's spot venues (ETH, USDC, USDT, WBTC)",
        ),
        (
            ["--from", "ETH", "--to", "USDC", "--qty", "1", "--max-hops", "4"],
            "--max-hops='4' is invalid; allowed: an integer >= 1 and <= 3",
        ),
        (
            ["--from", "ETH", "--to", "USDC", "--qty", "1", "--max-hops", "0"],
            "--max-hops='0' is invalid; allowed: an integer >= 1 and <= 3",
        ),
        (
            ["--from", "ETH", "--to", "USDC", "--qty", "1", "--max-hops", "two"],
            "--max-hops='two' is invalid",
        ),
        (["--from", "ETH", "--to", "ETH", "--qty", "1"], "to='ETH' is invalid"),
        (["--from", "ETH", "--to", "USDC", "--qty", "-1"], "qty='-1' is invalid"),
        (["--from", "ETH", "--to", "USDC"], "give exactly one of --qty (spend) and --to-qty"),
        (["--from", "ETH", "--qty", "1"], "to=None is invalid"),
        (["--from", "ETH", "--to", "USDC", "--qty", "1", "--side", "buy"], "side='buy' is invalid"),
        (["--side", "buy", "--qty", "1", "--max-hops", "2"], "max_hops='2' is invalid"),
        (["--qty", "1"], "side=None is invalid"),
        (
            ["--from", "ETH", "--to", "USDC", "--to-qty", "100000000000"],
            "to_qty='100000000000' is invalid; allowed: at most about",
        ),
    ],
)
def test_bad_multihop_requests_exit_2_with_one_line(capsys, argv: list[str], message: str) -> None:
    before = {
        n: a.quote("buy", Decimal(1))
        for n, a in load_market(DEFAULT).adapters.items()
        if a.symbol == "ETH/USDC"
    }
    code, out, err = run_cli(capsys, "route", "--config", DEFAULT, *argv)
    assert code == 2 and out == ""
    assert err.startswith("crossroute: error: ") and err.count("\n") == 1, err
    assert message in err, err
    after = {
        n: a.quote("buy", Decimal(1))
        for n, a in load_market(DEFAULT).adapters.items()
        if a.symbol == "ETH/USDC"
    }
    assert before == after


@pytest.mark.parametrize("hops", ["1", "2"])
def test_no_path_names_the_pair_and_the_links_that_exist(capsys, tmp_path, hops: str) -> None:
    config = tmp_path / "islands.toml"
    config.write_text(ISLANDS)
    code, out, err = run_cli(
        capsys,
        "route",
        "--config",
        str(config),
        "--from",
        "ETH",
        "--to",
        "USDC",
        "--qty",
        "1",
        "--max-hops",
        hops,
    )
    assert code == 2 and out == ""
    assert err == (
        f"crossroute: error: from='ETH' to='USDC': no path of at most {hops} hop(s); the market"
        " links DAI-USDC, ETH-USDT, ETH-WBTC, USDT-WBTC\n"
    )
