"""Porting positions and transferring collateral between subaccounts.

Both sides must keep headroom >= 0 afterwards (initial margin met), else MarginRejected and
nothing changes. A port moves ``size`` of a cross position at the current (valid) mark: the
source realises its PnL on the moved part against the market (rounded down), the destination
opens at the mark; the market's net position is unchanged.
"""

from __future__ import annotations

from typing import Any

from router.margin.account import ISOLATED
from router.margin.errors import MarginInputError, MarginRejected, OraclePriceError
from router.margin.ledger import IM, MarginLedger, Scenario
from router.margin.quantities import parse_units, to_decimal, to_text


def _require(ledger: MarginLedger, scen: Scenario) -> None:
    if scen.headroom < 0:
        raise MarginRejected(
            "headroom",
            scen.sub.name,
            ledger.quote_asset,
            to_decimal(scen.totals[IM]),
            to_decimal(scen.equity_initial),
            to_decimal(-scen.headroom),
        )


def port_position(ledger: MarginLedger, src_id: Any, dst_id: Any, symbol: Any, size: Any) -> None:
    """Move ``size`` (> 0, base units, at most the source's |size|) of ``symbol`` from src to dst."""
    src = ledger._sub(src_id)
    dst = ledger._sub(dst_id)
    if src is dst:
        raise MarginInputError("dst", dst_id, "a subaccount other than src")
    market = ledger._market(symbol)
    pos = src.positions.get(market.symbol)
    if pos is None or pos.mode == ISOLATED:
        raise MarginInputError(
            "symbol",
            symbol,
            f"a cross position of {src.name}: "
            f"{sorted(s for s, p in src.positions.items() if p.mode != ISOLATED)}",
        )
    units = parse_units("size", size, positive=True, maximum=abs(pos.size_units))
    dst_pos = dst.positions.get(market.symbol)
    if dst_pos is not None and dst_pos.mode == ISOLATED:
        raise MarginInputError("dst", dst_id, f"a subaccount not holding {market.symbol} isolated")
    mark = ledger.marks[market.symbol]
    if not mark.valid:
        raise OraclePriceError(market.symbol, mark.state)
    signed = units if pos.size_units > 0 else -units
    a, b = Scenario(ledger, src), Scenario(ledger, dst)
    a.trade_perp(market.symbol, -signed, mark.price_units, 0)
    b.trade_perp(market.symbol, signed, mark.price_units, 0)
    _require(ledger, a)
    _require(ledger, b)
    ledger._commit(a)
    ledger._commit(b)
    ledger.journal.append(
        "port_position",
        src=src.name,
        dst=dst.name,
        symbol=market.symbol,
        size=to_text(signed),
        price=to_text(mark.price_units),
    )


def transfer_collateral(
    ledger: MarginLedger, src_id: Any, dst_id: Any, asset: Any, amount: Any
) -> None:
    """Move ``amount`` (> 0, at most the source balance) of ``asset`` from src to dst."""
    src = ledger._sub(src_id)
    dst = ledger._sub(dst_id)
    if src is dst:
        raise MarginInputError("dst", dst_id, "a subaccount other than src")
    asset = ledger._asset(asset)
    units = parse_units("amount", amount, positive=True, maximum=max(0, src.balances.get(asset, 0)))
    a, b = Scenario(ledger, src), Scenario(ledger, dst)
    a.add_balance(asset, -units)
    b.add_balance(asset, units)
    _require(ledger, a)
    _require(ledger, b)
    ledger._commit(a)
    ledger._commit(b)
    ledger.journal.append(
        "transfer", src=src.name, dst=dst.name, asset=asset, amount=to_text(units)
    )
