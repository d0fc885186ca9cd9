"""A v3 pool partial finer than 1e-8 (10.036966805 ETH) through the executor on the default market
and through `crossroute execute`: the margin ledger books it to the wei, so ledger and venue
holdings agree, and the hedge follows the exact filled size."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from router.app import DEFAULT_CONFIG, build_margin, load_market
from router.cli import main
from router.execution.executor import Executor
from router.execution.faults import Fault, inject_faults
from router.execution.journal import DecisionJournal, StepClock
from router.execution.order import order_from_dict

D = Decimal
PARTIAL = D("10.036966805")  # half of a 20.07393361 ETH child, on the pool's wei grid
ORDER = {
    "order": {"client_id": "grain-0001", "account": "desk-a", "max_rounds": 1},
    "legs": [
        {
            "id": "spot-long",
            "instrument": "spot",
            "symbol": "ETH/USDC",
            "side": "buy",
            "qty": "20.07393361",
            "limit": "2800",
            "venues": ["uni-v3-5"],
        },
        {
            "id": "perp-short",
            "instrument": "perp",
            "symbol": "ETH/USDC:USDC",
            "side": "sell",
            "follows": "spot-long",
            "ratio": "1",
            "limit": "2600",
        },
    ],
}
FAULTS = '[[faults]]\nvenue = "uni-v3-5"\nkind = "partial"\nshare = "0.5"\n'


def test_executor_books_a_v3_partial_to_the_wei() -> None:
    market = load_market(DEFAULT_CONFIG)
    setup = build_margin(market, "desk-a")
    ledger, sub = setup.ledger, setup.sub_id
    pool = market.adapters["uni-v3-5"].pool
    eth_before, usdc_before = ledger.balance(sub, "ETH"), ledger.balance(sub, "USDC")
    pool_before = pool.balance0
    executor = Executor(
        inject_faults(market.adapters, (Fault("uni-v3-5", "partial", 0, D("0.5")),)),
        setup.gate,
        journal=DecisionJournal(clock=StepClock()),
        instruments=market.instruments(),
        marks=lambda: setup.live_marks(market),
    )
    report = asyncio.run(executor.execute(order_from_dict(ORDER)))
    spot, perp = report.legs[0], report.legs[1]
    assert spot.filled_qty == PARTIAL and perp.filled_qty > 0
    held = report.venue_holdings
    # the venue's own book, the pool's token0 balance and the ledger agree to the wei
    assert held["uni-v3-5"]["ETH"] == PARTIAL == ledger.balance(sub, "ETH") - eth_before
    assert D(pool_before - pool.balance0).scaleb(-18) == PARTIAL
    assert usdc_before - ledger.balance(sub, "USDC") == spot.quote_amount + perp.fee
    position = ledger.position(sub, setup.perp_markets["ETH/USDC:USDC"])
    assert D(position.size_units).scaleb(-18) == held["perp-book"]["ETH"] == -perp.filled_qty
    # what the ledger holds is what the report says the venues hold, asset by asset
    assert report.residual_exposure["ETH"] == PARTIAL - perp.filled_qty
    ledger._check()


def test_cli_execute_reports_the_partial_as_the_venue_holds_it(capsys, tmp_path: Path) -> None:
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS)
    order_toml = tmp_path / "order.toml"
    order_toml.write_text(_toml(ORDER))
    code = main(
        ["execute", "--order", str(order_toml), "--faults", str(faults), "--json"]
        + ["--config", str(DEFAULT_CONFIG)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    (child,) = report["legs"][0]["children"]
    assert D(child["filled_qty"]) == PARTIAL and child["status"] == "partial"
    assert D(report["venue_holdings"]["uni-v3-5"]["ETH"]) == PARTIAL
    hedged = D(report["legs"][1]["filled_qty"])
    assert D(report["residual_exposure"]["ETH"]) == PARTIAL - hedged


def _toml(order: dict) -> str:
    """The order as TOML (strings and ints only, as ORDER has)."""

    def value(v: object) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v) if isinstance(v, int) else json.dumps(v)

    lines = ["[order]"] + [f"{k} = {value(v)}" for k, v in order["order"].items()]
    for leg in order["legs"]:
        lines += ["", "[[legs]]"] + [f"{k} = {value(v)}" for k, v in leg.items()]
    return "\n".join(lines) + "\n"
