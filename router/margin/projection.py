"""What-if state of one subaccount: a :class:`Projection` of pending changes over the ledger.

A projection is a copy-on-write view of one subaccount with pending balance and position changes
and its updated totals; ``flows`` holds the matching changes of the other holders (market,
insurance fund, fee pool) so that committing it keeps the double entry. Creating and stepping a
projection never touches the ledger: the ledger commits it (``MarginBook.commit``) or drops it.

It values changes through the small :class:`Valuation` protocol (the ledger's marks, weights and
tiers), so this module depends on nothing above the account types.
"""

from __future__ import annotations

from typing import Protocol

from router.margin.account import (
    CROSS,
    ISOLATED,
    AssetConfig,
    AssetFigures,
    Position,
    PositionFigures,
    Subaccount,
)
from router.margin.errors import MarginInputError
from router.margin.quantities import INDEX_SCALE, SCALE, ceil_div, floor_div, to_decimal
from router.margin.tiers import TierSchedule

# indices into Subaccount.totals (cross only, except GROSS which counts every exposure)
C_INIT, C_MAINT, UPNL, FUND, IM, MM, GROSS = range(7)
MARKET, FUND_HOLDER, FEES = "market", "insurance_fund", "fees"
NO_ASSET: AssetFigures = (0, 0, 0, 0, 0)


def position_figures_at(
    pos: Position, mark_units: int, index: int, tiers: TierSchedule, leverage: int
) -> PositionFigures:
    """(notional16, upnl, funding equity, IM, MM, notional units ceil) of one position.

    upnl and funding round down (against the account), IM/MM/notional round up. O(tiers).
    """
    n16 = abs(pos.size_units) * mark_units
    upnl = floor_div(pos.size_units * mark_units - pos.cost16, SCALE)
    fund = -ceil_div(pos.size_units * (index - pos.funding_index), INDEX_SCALE)
    return (
        n16,
        upnl,
        fund,
        tiers.initial_margin_units(n16, leverage),
        tiers.maintenance_margin_units(n16),
        ceil_div(n16, SCALE),
    )


def fill_position(
    size_units: int, cost16: int, signed_units: int, price_units: int
) -> tuple[int, int, int]:
    """A perp fill of ``signed_units`` at ``price_units`` on a position of ``size_units`` with
    exact cost ``cost16``: (size, cost16, realized PnL) after it. The reduced part realises its
    PnL (rounded down, its cost basis rounded up: against the account); the rest opens at the
    fill price, exactly. The one arithmetic of every perp booking. O(1)."""
    realized = 0
    if size_units and (size_units > 0) != (signed_units > 0):
        close = size_units if abs(signed_units) >= abs(size_units) else -signed_units
        closed_cost = ceil_div(cost16 * close, size_units)  # against the account
        realized = floor_div(close * price_units - closed_cost, SCALE)
        size_units -= close
        cost16 -= closed_cost
        signed_units += close
    if signed_units:
        size_units += signed_units
        cost16 += signed_units * price_units
    return size_units, cost16, realized


def requirements(totals: list[int], quote_units: int, quote: AssetConfig) -> tuple[int, int]:
    """(IM, MM) of the cross part: the cached perp and spot-liability requirements plus the quote
    borrow's, on the quote balance plus cross upnl and unsettled funding. O(1)."""
    settled = quote_units + totals[UPNL] + totals[FUND]
    borrow_im, borrow_mm = quote.quote_borrow_requirements(settled)
    return totals[IM] + borrow_im, totals[MM] + borrow_mm


class Valuation(Protocol):
    """What a projection needs from the ledger: the quote asset, funding indices, and the
    figures of a balance or a position at the current marks."""

    quote_asset: str
    funding_index: dict[str, int]
    assets: dict[str, AssetConfig]

    def asset_figures(self, asset: str, units: int) -> AssetFigures: ...

    def position_figures(self, sub: Subaccount, pos: Position) -> PositionFigures: ...


class Projection:
    """A copy-on-write view of one subaccount with pending changes and updated totals.

    ``flows`` holds the matching changes of the other holders (market, fund, fees) so that a
    commit keeps the double entry. Creating and stepping a scenario never touches the ledger.
    """

    __slots__ = (
        "asset_vals",
        "balances",
        "flows",
        "ledger",
        "market_sizes",
        "pos_vals",
        "positions",
        "sub",
        "totals",
    )

    def __init__(self, ledger: Valuation, sub: Subaccount) -> None:
        self.ledger = ledger
        self.sub = sub
        self.balances: dict[str, int] = {}
        self.positions: dict[str, Position | None] = {}
        self.asset_vals: dict[str, AssetFigures] = {}
        self.pos_vals: dict[str, PositionFigures | None] = {}
        self.totals = list(sub.totals)
        self.flows: dict[tuple[str, str], int] = {}
        self.market_sizes: dict[str, int] = {}

    def copy(self) -> Projection:
        other = Projection.__new__(Projection)
        other.ledger, other.sub = self.ledger, self.sub
        other.balances = dict(self.balances)
        other.positions = {k: (None if v is None else v.copy()) for k, v in self.positions.items()}
        other.asset_vals = dict(self.asset_vals)
        other.pos_vals = dict(self.pos_vals)
        other.totals = list(self.totals)
        other.flows = dict(self.flows)
        other.market_sizes = dict(self.market_sizes)
        return other

    # --- reads -------------------------------------------------------------------------------
    def balance(self, asset: str) -> int:
        if asset in self.balances:
            return self.balances[asset]
        return self.sub.balances.get(asset, 0)

    def position(self, symbol: str) -> Position | None:
        if symbol in self.positions:
            return self.positions[symbol]
        return self.sub.positions.get(symbol)

    def open_position(self, symbol: str) -> Position:
        """The projected position of ``symbol``, which the caller knows is open."""
        pos = self.position(symbol)
        if pos is None:
            raise MarginInputError("symbol", symbol, f"a symbol with a position in {self.sub.name}")
        return pos

    def open_figures(self, symbol: str) -> PositionFigures:
        """The projected figures of an open position of ``symbol``."""
        figs = self.figures(symbol)
        if figs is None:
            raise MarginInputError("symbol", symbol, f"a symbol with a position in {self.sub.name}")
        return figs

    def figures(self, symbol: str) -> PositionFigures | None:
        if symbol in self.pos_vals:
            return self.pos_vals[symbol]
        return self.sub.pos_vals.get(symbol)

    @property
    def initial_margin(self) -> int:
        """Cross IM: perps, spot liabilities and the quote borrow (see :func:`requirements`)."""
        quote = self.ledger.quote_asset
        return requirements(self.totals, self.balance(quote), self.ledger.assets[quote])[0]

    @property
    def maintenance_margin(self) -> int:
        quote = self.ledger.quote_asset
        return requirements(self.totals, self.balance(quote), self.ledger.assets[quote])[1]

    @property
    def equity_initial(self) -> int:
        t = self.totals
        return t[C_INIT] + t[UPNL] + t[FUND]

    @property
    def equity_maintenance(self) -> int:
        t = self.totals
        return t[C_MAINT] + t[UPNL] + t[FUND]

    @property
    def headroom(self) -> int:
        return self.equity_initial - self.initial_margin

    @property
    def maintenance_excess(self) -> int:
        return self.equity_maintenance - self.maintenance_margin

    # --- writes ------------------------------------------------------------------------------
    def flow(self, holder: str, asset: str, delta: int) -> None:
        if delta:
            self.flows[(holder, asset)] = self.flows.get((holder, asset), 0) + delta

    def set_balance(self, asset: str, units: int) -> None:
        old = self.asset_vals.get(asset) or self.sub.asset_vals.get(asset, NO_ASSET)
        new = self.ledger.asset_figures(asset, units)
        self.balances[asset] = units
        self.asset_vals[asset] = new
        t = self.totals
        t[C_INIT] += new[0] - old[0]
        t[C_MAINT] += new[1] - old[1]
        t[GROSS] += new[2] - old[2]
        t[IM] += new[3] - old[3]
        t[MM] += new[4] - old[4]

    def add_balance(self, asset: str, delta: int) -> None:
        if delta:
            self.set_balance(asset, self.balance(asset) + delta)

    def set_position(self, symbol: str, pos: Position | None) -> None:
        old_pos = self.position(symbol)
        old = self.figures(symbol)
        new = None if pos is None else self.ledger.position_figures(self.sub, pos)
        self.positions[symbol] = pos
        self.pos_vals[symbol] = new
        t = self.totals
        for figs, sign, p in ((old, -1, old_pos), (new, 1, pos)):
            if figs is None:
                continue
            t[GROSS] += sign * figs[5]
            if p is not None and p.mode == CROSS:
                t[UPNL] += sign * figs[1]
                t[FUND] += sign * figs[2]
                t[IM] += sign * figs[3]
                t[MM] += sign * figs[4]

    # --- trading -----------------------------------------------------------------------------
    def settle_funding(self, symbol: str) -> None:
        """Move the position's unsettled funding into cash (equity unchanged: already counted)."""
        pos = self.position(symbol)
        if pos is None:
            return
        index = self.ledger.funding_index[symbol]
        if pos.funding_index == index:
            return
        owed = ceil_div(pos.size_units * (index - pos.funding_index), INDEX_SCALE)
        new = pos.copy()
        new.funding_index = index
        self._cash(new, -owed, MARKET)
        self.set_position(symbol, new)

    def _cash(self, pos: Position, delta: int, counterparty: str) -> None:
        """Credit ``delta`` quote to the position's cash (isolated margin or the quote balance)."""
        quote = self.ledger.quote_asset
        if pos.mode == ISOLATED:
            pos.isolated_margin_units += delta
        else:
            self.add_balance(quote, delta)
        self.flow(counterparty, quote, -delta)

    def trade_perp(
        self,
        symbol: str,
        signed_units: int,
        price_units: int,
        fee_units: int,
        isolated_margin: int | None = None,
        counterparty: str = MARKET,
        *,
        release_isolated: bool = True,
    ) -> int:
        """Fill ``signed_units`` of ``symbol`` at ``price_units``: settle funding, realise PnL on
        the reduced part (rounded down), move cost basis exactly, charge the fee to the pool.

        When an isolated position closes, its bucket's cash goes back to the quote balance; with
        ``release_isolated=False`` it does not, and the caller must book the returned amount
        (quote units, may be negative: a loss beyond the posted margin) to keep the double entry.
        Returns that unreleased amount, else 0. O(tiers)."""
        ledger = self.ledger
        quote = ledger.quote_asset
        self.settle_funding(symbol)
        pos = self.position(symbol)
        pos = (
            Position(
                symbol,
                0,
                0,
                ledger.funding_index[symbol],
                ISOLATED if isolated_margin is not None else CROSS,
            )
            if pos is None
            else pos.copy()
        )
        if isolated_margin is not None and pos.size_units and pos.mode != ISOLATED:
            raise MarginInputError(
                "isolated_margin",
                to_decimal(isolated_margin),
                f"absent: {symbol} is already held cross",
            )
        if isolated_margin:
            pos.isolated_margin_units += isolated_margin
            self.add_balance(quote, -isolated_margin)
        pos.size_units, pos.cost16, realized = fill_position(
            pos.size_units, pos.cost16, signed_units, price_units
        )
        if realized:
            self._cash(pos, realized, counterparty)
        self._cash(pos, -fee_units, FEES) if fee_units else None
        if counterparty == MARKET:
            self.market_sizes[symbol] = self.market_sizes.get(symbol, 0) - signed_units
        if pos.size_units == 0:
            left = pos.isolated_margin_units if pos.mode == ISOLATED else 0
            self.set_position(symbol, None)
            if not release_isolated:
                return left
            if left:
                # the bucket's cash goes back to the cross balance when the position is gone
                self.add_balance(quote, left)
            return 0
        self.set_position(symbol, pos)
        return 0

    def trade_spot(self, asset: str, signed_units: int, price_units: int, fee_units: int) -> None:
        """Exchange ``asset`` against quote at ``price_units``; the quote leg rounds against the
        account (paid up, received down); the fee goes to the pool."""
        quote = self.ledger.quote_asset
        notional16 = abs(signed_units) * price_units
        cash = -ceil_div(notional16, SCALE) if signed_units > 0 else floor_div(notional16, SCALE)
        self.add_balance(asset, signed_units)
        self.add_balance(quote, cash - fee_units)
        self.flow(MARKET, asset, -signed_units)
        self.flow(MARKET, quote, -cash)
        self.flow(FEES, quote, fee_units)
