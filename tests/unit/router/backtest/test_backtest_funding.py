"""Backtest funding on the interval's average premium, as Binance and the venue server settle it:
one premium sample (perp mark over the spot index) per arbitrage interval, averaged with Binance's
linear weights when the strategy's funding interval ends, not the premium at that moment."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from router.backtest.engine import parse_spec, run_backtest
from router.backtest.report import summarise
from router.margin.funding import binance_rate_units, premium_units
from router.margin.quantities import RATE_SCALE, SCALE

from .conftest import book_spec
from .test_latency_multileg import BASIS  # the basis trade, funding every 1 s


def _spec(tmp_path: Path, moving_book):
    # the perp rises 0.11 per 100 ms, the spot 0.10: the premium grows within every interval
    spot = moving_book("spot.csv", step="0.10")
    perp = moving_book("perp.csv", step="0.11")
    raw = book_spec(spot, BASIS, start_offset_ms=500, arb_interval_ms=100)
    raw["data"][0]["venue"] = "spot"
    raw["data"].append(
        dict(raw["data"][0], path=str(perp), venue="perp", symbol="ETH/USDT:USDT", lot_size="0.001")
    )
    raw["margin"] = {
        "quote": "USDT",
        "balances": {"USDT": "10000"},
        "assets": {"ETH": {"initial_weight": "0.9", "maintenance_weight": "0.95"}},
        "markets": {
            "ETH/USDT:USDT": {
                "name": "ETH-PERP",
                "oracle": "ETH",
                "max_leverage": 20,
                "funding_interest": "0.0001",
                "funding_band": "0.0005",
            }
        },
    }
    return parse_spec(raw, tmp_path, str(tmp_path / "basis.toml"))


def test_each_interval_settles_on_the_weighted_average_of_its_samples(tmp_path, moving_book):
    raw = run_backtest(_spec(tmp_path, moving_book))
    summary = summarise(raw)
    mids: dict[int, dict[str, Decimal]] = {}
    for row in raw["mids"]:  # the mids the marks were set from, at every arbitrage interval
        mids.setdefault(row["ts_ns"], {})[row["symbol"]] = Decimal(row["mid"])
    # one sample per arbitrage interval, in time order: mark (perp mid) over index (spot mid)
    premiums = [
        premium_units(int(m["ETH/USDT:USDT"] * SCALE), int(m["ETH/USDT"] * SCALE))
        for _, m in sorted(mids.items())
    ]
    assert len(set(premiums)) > 10  # the premium moved
    terms = (10**8, 5 * 10**8, 5 * 10**8, 8)  # interest 0.01%, band 0.05%, cap 0.05%, 8 hours
    funding = summary["funding"]
    assert len(funding) >= 5
    used, differs = 0, False
    for event in funding:
        samples = premiums[used : used + event["samples"]]
        used += event["samples"]
        assert event["samples"] >= 9  # about 10 arbitrage intervals per 1 s funding interval
        expected = Decimal(binance_rate_units(samples, *terms)) / RATE_SCALE
        assert Decimal(event["rate"]) == expected
        at_the_end = Decimal(binance_rate_units(samples[-1:], *terms)) / RATE_SCALE
        differs = differs or expected != at_the_end
    assert differs  # the last premium alone (the old rule) would have paid another rate
