"""Pools that live: on a market moving 1 % in 10 s, arbitrageurs trade the pools back in line
whenever the exact profit beats the pool fee and the gas, and no sooner."""

from __future__ import annotations

from decimal import Decimal

from router.backtest.engine import run_backtest

TWAP = {"kind": "twap", "side": "buy", "qty": "1", "duration_s": "8", "slices": 2}


def _pool(fee_pips: int, gas: str) -> dict:
    return {
        "name": "pool",
        "kind": "amm",
        "symbol": "ETH/USDT",
        "fee_pips": fee_pips,
        "gas": gas,
        "base_reserve": "1000",
    }


def _arbs(moving_book, spec_of, fee_pips: int, gas: str) -> tuple[list, list]:
    spec = spec_of(
        moving_book(), TWAP, venues=[_pool(fee_pips, gas)], start_offset_ms=100, arb_interval_ms=250
    )
    raw = run_backtest(spec)
    return raw["arbitrage"], raw["mids"]


def test_arbitrageurs_trade_the_pool_along_a_moving_market(moving_book, spec_of) -> None:
    trades, mids = _arbs(moving_book, spec_of, 3000, "1")
    assert len(trades) >= 3
    assert all(t["side"] == "buy" and t["profit"] > 0 for t in trades)  # the market rises
    # Each trade is against the reference mid of its time and makes money after the gas.
    by_ts = {m["ts_ns"]: m["mid"] for m in mids}
    assert all(t["mid"] == by_ts[t["ts_ns"]] for t in trades)


def test_the_threshold_follows_fees_and_gas(moving_book, spec_of) -> None:
    cheap, _ = _arbs(moving_book, spec_of, 500, "0.1")
    base, _ = _arbs(moving_book, spec_of, 3000, "1")
    costly_gas, _ = _arbs(moving_book, spec_of, 3000, "40")
    wide_fee, _ = _arbs(moving_book, spec_of, 30000, "1")
    assert len(cheap) > len(base) > len(costly_gas)
    assert len(base) > len(wide_fee)
    # A 3 % fee band is wider than the whole 1 % move: never worth it.
    assert wide_fee == []
    # The cheaper the band, the sooner the first trade.
    assert min(t["ts_ns"] for t in cheap) <= min(t["ts_ns"] for t in base)
    assert all(t["profit"] > 0 and isinstance(t["qty"], Decimal) for t in cheap + costly_gas)
