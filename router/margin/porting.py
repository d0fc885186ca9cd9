"""Porting positions and transferring collateral between subaccounts.

Both sides must keep headroom >= 0 afterwards (initial margin met), else MarginRejected and
nothing changes. A port moves ``size`` of a cross position and, by default, keeps its entry
price: the moved part carries its share of the cost basis (the source keeps the rest, so the sum
is exact), both sides settle funding first, no PnL is realised and no cash moves. The destination
must then hold no position in the symbol or one on the same side (netting an opposite position
would realise PnL at a price the user did not choose). With ``at_mark=True`` the port is instead
a trade at the current (valid) mark: the source realises its PnL on the moved part against the
market (rounded down), the destination opens at the mark. The market's net position is unchanged
either way.
"""

from __future__ import annotations

from typing import Any

from router.margin.account import CROSS, ISOLATED, Position
from router.margin.book import MarginBook
from router.margin.errors import MarginInputError, OraclePriceError
from router.margin.projection import Projection
from router.margin.quantities import ceil_div, parse_units, to_text


def port_position(
    ledger: MarginBook, src_id: Any, dst_id: Any, symbol: Any, size: Any, *, at_mark: bool = False
) -> None:
    """Move ``size`` (> 0, base units, at most the source's |size|) of ``symbol`` from src to
    dst, keeping the entry price (or trading at the mark with ``at_mark``)."""
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
    if at_mark is not True and at_mark is not False:
        raise MarginInputError("at_mark", at_mark, "true or false")
    signed = units if pos.size_units > 0 else -units
    a, b = ledger.projection(src.name), ledger.projection(dst.name)
    if at_mark:
        mark = ledger.marks[market.symbol]
        if not mark.valid:
            raise OraclePriceError(market.symbol, mark.state)
        price = to_text(ledger.mark_units(market.symbol))
        a.trade_perp(market.symbol, -signed, ledger.mark_units(market.symbol), 0)
        b.trade_perp(market.symbol, signed, ledger.mark_units(market.symbol), 0)
    else:
        if dst_pos is not None and (dst_pos.size_units > 0) != (signed > 0):
            raise MarginInputError(
                "dst",
                dst_id,
                f"a subaccount holding no {market.symbol} or the same side (or port at_mark)",
            )
        _move_at_entry(a, b, market.symbol, signed)
        price = format(pos.entry_price, "f")
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
        price=price,
        at_mark=at_mark,
    )


def _move_at_entry(a: Projection, b: Projection, symbol: str, signed: int) -> None:
    """Move ``signed`` units of ``symbol`` from projection ``a`` to ``b`` with their share of the
    cost basis, after settling both sides' funding: no cash moves, no PnL is realised. O(tiers)."""
    a.settle_funding(symbol)
    b.settle_funding(symbol)
    src = a.open_position(symbol).copy()
    moved_cost = ceil_div(src.cost16 * signed, src.size_units)
    src.size_units -= signed
    src.cost16 -= moved_cost
    a.set_position(symbol, src if src.size_units else None)
    held = b.position(symbol)
    if held is None:
        index = a.ledger.funding_index[symbol]
        b.set_position(symbol, Position(symbol, signed, moved_cost, index, CROSS))
    else:
        dst = held.copy()
        dst.size_units += signed
        dst.cost16 += moved_cost
        b.set_position(symbol, dst)


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
