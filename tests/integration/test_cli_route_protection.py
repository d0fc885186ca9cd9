"""`crossroute route` default price protection: a band around the arrival mid unless --limit or
--no-limit, stated in every output; fixed costs above a share of the notional are warned about."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.app import DEFAULT_CONFIG, load_market
from router.cli import main
from router.protection import arrival_mid, band_limit


def route(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["route", "--config", str(DEFAULT_CONFIG), "--symbol", "ETH/USDC", *args])
    out, err = capsys.readouterr()
    return (
        code,
        (json.loads(out) if out.startswith("{") else {}),
        err + ("" if out.startswith("{") else out),
    )


def test_an_order_without_limit_gets_the_band_and_says_so(capsys) -> None:
    code, plan, _ = route(capsys, "--side", "buy", "--qty", "1", "--json")
    assert code == 0
    venues = load_market(DEFAULT_CONFIG).adapters_for("ETH/USDC", None)
    mid = arrival_mid(venues)
    assert plan["protection"] == {
        "mode": "band",
        "limit_price": format(band_limit(mid, "buy", 100), "f"),
        "arrival_mid": format(mid, "f"),
        "band_bps": 100,
    }
    assert Decimal(plan["avg_price"]) <= Decimal(plan["protection"]["limit_price"])


def test_a_sell_that_exhausts_liquidity_is_not_complete_unless_protection_is_lifted(capsys) -> None:
    code, plan, _ = route(capsys, "--side", "sell", "--qty", "100000", "--json")
    assert code == 0 and plan["complete"] is False and Decimal(plan["unfilled_qty"]) > 0
    assert Decimal(plan["avg_price"]) >= Decimal(plan["protection"]["limit_price"])
    code, lifted, _ = route(capsys, "--side", "sell", "--qty", "100000", "--no-limit", "--json")
    assert code == 0 and lifted["complete"] is True and lifted["protection"]["mode"] == "none"
    assert Decimal(lifted["avg_price"]) < Decimal(plan["protection"]["arrival_mid"]) / 10


def test_fixed_costs_above_the_share_are_warned_with_the_figures(capsys) -> None:
    code, plan, _ = route(capsys, "--side", "buy", "--qty", "0.001", "--no-limit", "--json")
    assert code == 0
    (warning,) = plan["warnings"]
    assert "fixed costs" in warning and "% of the notional" in warning and "at most 1%" in warning
    code, plan, err = route(capsys, "--side", "buy", "--qty", "0.001")  # the band refuses it
    assert code == 2 and "default price protection" in err and err.count("\n") == 1


def test_a_user_limit_is_reported_as_such(capsys) -> None:
    code, plan, _ = route(capsys, "--side", "buy", "--qty", "2", "--limit", "2800", "--json")
    assert code == 0 and plan["protection"]["mode"] == "limit"
    assert plan["protection"]["limit_price"] == "2800"


@pytest.mark.parametrize(
    "args",
    [
        ("--limit", "2800", "--no-limit"),
        ("--band-bps", "0"),
        ("--band-bps", "1e2"),
        ("--band-bps", "20000"),
        ("--max-fixed-cost-share", "2"),
        ("--max-fixed-cost-share", "NaN"),
    ],
)
def test_bad_protection_options_are_one_line_exit_2(capsys, args) -> None:
    code, plan, err = route(capsys, "--side", "buy", "--qty", "1", *args)
    assert code == 2 and plan == {} and err.count("\n") == 1, err


@settings(max_examples=25, deadline=None)
@given(band=st.integers(1, 2000), side=st.sampled_from(["buy", "sell"]))
def test_band_limit_is_never_tighter_than_the_band(band: int, side: str) -> None:
    mid = Decimal("2683.80533564")
    limit = band_limit(mid, side, band)
    exact = (
        mid * (1 + Decimal(band) / 10_000) if side == "buy" else mid * (1 - Decimal(band) / 10_000)
    )
    assert (limit >= exact) if side == "buy" else (limit <= exact)
    assert abs(limit - exact) < Decimal("1e-8")
