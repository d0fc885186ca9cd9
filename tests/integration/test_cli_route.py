"""`crossroute route` and `crossroute demo` end to end through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from router.app import load_market
from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")
SMALL = str(ROOT / "config" / "examples" / "small.toml")
NUMBER_KEYS = ("qty", "quote_amount", "avg_price", "marginal_price", "improvement_bps")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refusals
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def route_json(capsys, *argv: str) -> dict:
    code, out, err = run_cli(capsys, "route", *argv, "--json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def _check_contract(plan: dict, side: str, *, sized_in_quote: bool = False) -> None:
    for key in (
        "symbol",
        "side",
        "qty",
        "legs",
        "quote_amount",
        "avg_price",
        "marginal_price",
        "best_single_venue",
        "improvement_bps",
    ):
        assert key in plan
    assert plan["side"] == side
    for key in NUMBER_KEYS:
        if key == "improvement_bps" and plan["best_single_venue"] is None:
            assert plan[key] is None  # no benchmark, no improvement
            continue
        assert isinstance(plan[key], str) and Decimal(plan[key]).is_finite(), key
    assert plan["legs"], plan
    for leg in plan["legs"]:
        assert set(leg) == {"venue", "qty", "quote_amount", "avg_price"}
        assert all(isinstance(leg[key], str) for key in ("qty", "quote_amount", "avg_price"))
    # exact sums: legs add up to the order and the total
    assert sum(Decimal(leg["qty"]) for leg in plan["legs"]) == Decimal(plan["qty"])
    assert sum(Decimal(leg["quote_amount"]) for leg in plan["legs"]) == Decimal(
        plan["quote_amount"]
    )
    best = plan["best_single_venue"]
    if best is not None:
        assert isinstance(best["quote_amount"], str)
        if not sized_in_quote:  # same base on both: compare what is paid or received
            total, single = Decimal(plan["quote_amount"]), Decimal(best["quote_amount"])
            assert total <= single if side == "buy" else total >= single
        assert Decimal(plan["improvement_bps"]) >= 0


@pytest.mark.parametrize("config", [DEFAULT, SMALL], ids=["default", "small"])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("qty", ["0.5", "7.25", "50", "120"])
def test_route_json_contract_and_exact_sums(capsys, config: str, side: str, qty: str) -> None:
    plan = route_json(
        capsys, "--config", config, "--symbol", "ETH/USDC", "--side", side, "--qty", qty
    )
    _check_contract(plan, side)
    # the default price band may leave part of a large order unfilled, and says so
    assert plan["protection"]["mode"] == "band"
    assert Decimal(plan["qty"]) + Decimal(plan["unfilled_qty"]) == Decimal(qty)
    assert plan["complete"] == (Decimal(plan["qty"]) == Decimal(qty))
    # every reported leg is the venue's exact quote on a fresh market
    market = load_market(config)
    for leg in plan["legs"]:
        exact = market.adapters[leg["venue"]].quote(side, Decimal(leg["qty"]))
        assert exact.quote_amount == Decimal(leg["quote_amount"])


def test_default_market_splits_a_50_eth_buy_and_beats_the_best_single_venue(capsys) -> None:
    plan = route_json(capsys, "--side", "buy", "--qty", "50", "--config", DEFAULT)
    assert len(plan["legs"]) >= 2
    assert Decimal(plan["improvement_bps"]) > 0


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_route_sized_in_quote(capsys, side: str) -> None:
    plan = route_json(capsys, "--config", DEFAULT, "--side", side, "--quote-qty", "100000")
    _check_contract(plan, side, sized_in_quote=True)
    total = Decimal(plan["quote_amount"])
    assert total <= Decimal(100000) if side == "buy" else total >= Decimal(100000)


def test_route_restricted_to_named_venues(capsys) -> None:
    plan = route_json(
        capsys, "--config", DEFAULT, "--side", "buy", "--qty", "20", "--venues", "uni-v2,uni-v3-30"
    )
    assert {leg["venue"] for leg in plan["legs"]} <= {"uni-v2", "uni-v3-30"}
    _check_contract(plan, "buy")


def test_partly_fillable_order_is_reported(capsys) -> None:
    plan = route_json(
        capsys, "--config", SMALL, "--side", "sell", "--qty", "300", "--limit", "2990"
    )
    assert plan["complete"] is False
    assert Decimal(plan["qty"]) < 300
    code, out, _ = run_cli(
        capsys, "route", "--config", SMALL, "--side", "sell", "--qty", "300", "--limit", "2990"
    )
    assert code == 0 and "partly fillable" in out


def test_table_output_lists_legs_totals_and_benchmark(capsys) -> None:
    code, out, err = run_cli(capsys, "route", "--config", DEFAULT, "--side", "buy", "--qty", "50")
    assert code == 0 and err == ""
    for text in (
        "binance-book",
        "uni-v3-5",
        "total",
        "average price",
        "marginal price",
        "best single venue",
        "bps",
        "100.00%",
    ):
        assert text in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--side", "buy", "--qty", "-1"],
        ["--side", "buy", "--qty", "0"],
        ["--side", "buy", "--qty", "abc"],
        ["--side", "buy", "--qty", "NaN"],
        ["--side", "buy", "--qty", "1", "--quote-qty", "1000"],
        ["--side", "buy"],
        ["--side", "hold", "--qty", "1"],
        ["--side", "buy", "--qty", "1", "--symbol", "BTC/USDC"],
        ["--side", "buy", "--qty", "1", "--venues", "uni-v2,nope"],
        ["--side", "buy", "--qty", "1", "--limit", "1"],
        ["--side", "sell", "--qty", "1", "--limit", "1000000"],
        ["--side", "buy", "--qty", "1", "--limit", "-3"],
        ["--side", "buy", "--qty", "1", "--config", "/nonexistent/market.toml"],
        ["--side", "buy", "--qty", "Infinity"],
        ["--side", "buy", "--quote-qty", "-5"],
        ["--side", "buy", "--qty", "1", "--venues", " , "],
        ["--side", "buy", "--qty", "1", "--limit", "3e"],
    ],
    ids=[
        "negative",
        "zero",
        "non-numeric",
        "nan",
        "both-sizes",
        "no-size",
        "bad-side",
        "unknown-symbol",
        "unknown-venue",
        "unsatisfiable-buy-limit",
        "unsatisfiable-sell-limit",
        "negative-limit",
        "missing-config",
        "infinite",
        "negative-quote",
        "empty-venues",
        "malformed-limit",
    ],
)
def test_bad_request_exits_2_with_one_line(capsys, argv: list[str]) -> None:
    if "--config" not in argv:
        argv = argv + ["--config", DEFAULT]
    code, out, err = run_cli(capsys, "route", *argv, "--json")
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1 and err.startswith("crossroute: error: ")


def test_bad_config_exits_2_naming_the_key(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(SMALL).read_text().replace("fee_pips = 500", "fee_pips = -5"))
    code, out, err = run_cli(capsys, "route", "--config", str(bad), "--side", "buy", "--qty", "1")
    assert code == 2 and out == ""
    assert (
        err
        == f"crossroute: error: {bad}: venues[1].fee_pips = -5 is invalid; allowed: integer in [0, 999999]\n"
    )


def test_demo_shows_the_market_two_routes_and_the_basis_trade(capsys) -> None:
    code, out, err = run_cli(capsys, "demo", "--config", DEFAULT)
    assert code == 0 and err == ""
    for text in (
        "uni-v2",
        "uni-v3-5",
        "uni-v3-30",
        "binance-book",
        "perp-book",
        "within 1%",
        "route: buy 50 ETH",
        "route: sell 50 ETH",
        "best single venue",
        "basis trade: buy 10 ETH",
        "order demo-basis: filled",
        "child orders",
        "margin (quote)",
        "netting saves",
        "residual exposure: ETH 0\n",
        "route across paths: sell 50 ETH for USDC",
        "ETH->USDT->USDC",
        "duality gap",
    ):
        assert text in out, text
    assert len(out.splitlines()) <= 90
    assert run_cli(capsys, "demo", "--config", DEFAULT)[1] == out  # deterministic


def test_demo_skips_the_basis_trade_without_a_perpetual(capsys) -> None:
    code, out, err = run_cli(capsys, "demo", "--config", SMALL)
    assert code == 0 and err == ""
    assert "basis trade skipped: no perpetual ETH/USDC:USDC in this market" in out


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_route_on_the_perpetual_by_its_symbol(capsys, side: str) -> None:
    plan = route_json(
        capsys, "--config", DEFAULT, "--symbol", "ETH/USDC:USDC", "--side", side, "--qty", "25"
    )
    _check_contract(plan, side)
    assert plan["symbol"] == "ETH/USDC:USDC" and [leg["venue"] for leg in plan["legs"]] == [
        "perp-book"
    ]
    exact = load_market(DEFAULT).adapters["perp-book"].quote(side, Decimal(25))
    assert Decimal(plan["quote_amount"]) == exact.quote_amount


def test_route_without_symbol_on_the_default_market_means_the_spot_symbol(capsys) -> None:
    plan = route_json(capsys, "--config", DEFAULT, "--side", "buy", "--qty", "1")
    assert plan["symbol"] == "ETH/USDC" and "perp-book" not in {
        leg["venue"] for leg in plan["legs"]
    }


def test_console_entry_prints_json(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "router.cli",
            "route",
            "--config",
            SMALL,
            "--side",
            "buy",
            "--qty",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    _check_contract(json.loads(result.stdout), "buy")
