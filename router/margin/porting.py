"""Porting positions and transferring collateral between subaccounts.

Both sides must keep headroom >= 0 afterwards (initial margin met), else MarginRejected and
nothing changes. A port moves ``size`` of a cross position at the current (valid) mark: the
source realises its PnL on the moved part against the market (rounded down), the destination
opens at the mark; the market's net position is unchanged.
"""

from __future__ import annotations

from typing import Any

from router.margin.account import ISOLATED
from router.margin.book import MarginBook
from router.margin.errors import MarginInputError, OraclePriceError
from router.margin.quantities import parse_units, to_text


def port_position(ledger: MarginBook, src_id: Any, dst_id: Any, symbol: Any, size: Any) -> None:
    """Move ``size`` (> 0, base units, at most the source's |size|) of ``symbol`` from src to dst."""
    src = ledger.subaccount(src_id)
    dst = ledger.subaccount(dst_id)
    if src is dst:
        raise MarginInputError("dst", dst_id, "a subaccount other than src")
    market = ledger.market(symbol)
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
    a, b = ledger.projection(src.name), ledger.projection(dst.name)
    a.trade_perp(market.symbol, -signed, mark.price_units, 0)
    b.trade_perp(market.symbol, signed, mark.price_units, 0)
    ledger.require_headroom(a)
    ledger.require_headroom(b)
    ledger.commit(a)
    ledger.commit(b)
    ledger.journal.append(
        "port_position",
        src=src.name,
        dst=dst.name,
        symbol=market.symbol,
        size=to_text(signed),
        price=to_text(mark.price_units),
    )


def transfer_collateral(
    ledger: MarginBook, src_id: Any, dst_id: Any, asset: Any, amount: Any
) -> None:
    """Move ``amount`` (> 0, at most the source balance) of ``asset`` from src to dst."""
    src = ledger.subaccount(src_id)
    dst = ledger.subaccount(dst_id)
    if src is dst:
        raise MarginInputError("dst", dst_id, "a subaccount other than src")
    asset = ledger.known_asset(asset)
    units = parse_units("amount", amount, positive=True, maximum=max(0, src.balances.get(asset, 0)))
    a, b = ledger.projection(src.name), ledger.projection(dst.name)
    a.add_balance(asset, -units)
    b.add_balance(asset, units)
    ledger.require_headroom(a)
    ledger.require_headroom(b)
    ledger.commit(a)
    ledger.commit(b)
    ledger.journal.append(
        "transfer", src=src.name, dst=dst.name, asset=asset, amount=to_text(units)
    )
