"""The margin book: the ledger's state, its caches, and the public what-if API over them.

Double entry: every unit of every asset sits with a subaccount (balance or isolated margin), the
market (the counterparty of every trade and funding payment), the insurance fund or the fee pool;
their sum per asset always equals net deposits, and perp sizes plus the market's sum to zero.

Each subaccount caches per-asset collateral values and per-position figures (upnl, unsettled
funding, IM, MM, notional) and their totals, so a pre-trade check touches only the leg's asset and
position: O(1) in the number of positions. A mark or funding-index change refreshes only the
subaccounts that hold that name (reverse index). Every figure is rounded against the account.

Breach sets: ``breaches`` maps each subaccount below maintenance to what is breached (its cross
account, :data:`CROSS_BREACH`, and/or the symbols of isolated positions below their own MM). The
two doors that change cached figures (:meth:`MarginBook.commit` and
:meth:`MarginBook.revalue_position`) update it for the subaccount they touch, in O(1) per changed
position, so every path that books (legs, the replay's batch path, porting, transfers,
liquidation, funding, interest, marks) keeps it right, and the liquidation scan
(:meth:`MarginBook.liquidatable`) is O(breached) instead of O(subaccounts). ``_check`` compares it
with a full recompute.

State changes go through one door: build a :class:`~router.margin.projection.Projection` with
:meth:`MarginBook.projection`, step it, and :meth:`MarginBook.commit` it. Liquidation, porting and
funding (``liquidation.py``, ``porting.py``, ``funding.py``) are functions over this API; the
validated user-facing operations are :class:`router.margin.ledger.MarginLedger`'s methods.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Self

from router.margin.account import (
    CROSS,
    ISOLATED,
    Account,
    AssetConfig,
    AssetFigures,
    PerpMarket,
    Position,
    PositionFigures,
    Subaccount,
)
from router.margin.errors import MarginInputError, MarginRejected, OraclePriceError
from router.margin.journal import Journal
from router.margin.oracle import MISSING, VALID, MarkPrice
from router.margin.projection import (
    C_INIT,
    C_MAINT,
    FEES,
    FUND,
    GROSS,
    IM,
    MARKET,
    MM,
    NO_ASSET,
    UPNL,
    Projection,
    fill_position,
    position_figures_at,
    requirements,
)
from router.margin.quantities import SCALE, parse_int, parse_name, to_decimal, to_text

# called with (subaccount id, cancelled order ids) when liquidation cancels a subaccount's orders
OrderCancelHook = Callable[[str, list[str]], None]
# the breach key of a subaccount's cross account (symbols are never empty: parse_name)
CROSS_BREACH = ""
_NO_POSITION: PositionFigures = (0, 0, 0, 0, 0, 0)  # the figures of a position not held


def cross_short(totals: list[int], quote_units: int, quote: AssetConfig) -> bool:
    """Whether cross maintenance equity is below the cross MM (the quote borrow's MM counted when
    the settled quote balance is negative). O(1)."""
    floating = totals[UPNL] + totals[FUND]
    mm = totals[MM]
    if quote_units + floating < 0:  # a quote borrow: its own MM
        mm = requirements(totals, quote_units, quote)[1]
    return totals[C_MAINT] + floating < mm


def add_cross_position(totals: list[int], old: PositionFigures, new: PositionFigures) -> None:
    """Move a subaccount's totals from a cross position's ``old`` figures to its ``new`` ones
    (gross notional, unrealised PnL, funding owed, initial and maintenance requirement)."""
    totals[GROSS] += new[5] - old[5]
    totals[UPNL] += new[1] - old[1]
    totals[FUND] += new[2] - old[2]
    totals[IM] += new[3] - old[3]
    totals[MM] += new[4] - old[4]


def isolated_short(pos: Position, figures: PositionFigures) -> bool:
    """Whether ``pos`` is isolated and its bucket (margin + upnl + funding) is below its MM."""
    return pos.mode == ISOLATED and pos.isolated_margin_units + figures[1] + figures[2] < figures[4]


class MarginBook:
    """Configuration, marks, subaccounts and cached aggregates, with the projection/commit API.

    Lookups (:meth:`subaccount`, :meth:`market`, :meth:`known_asset`) raise
    :class:`MarginInputError` naming the field, the value and what is allowed.
    """

    def __init__(
        self,
        quote_asset: Any = "USDC",
        *,
        liquidation_fee_bps: Any = 50,
        liquidation_buffer_bps: Any = 1000,
        journal: Journal | None = None,
    ) -> None:
        self.quote_asset = parse_name("quote_asset", quote_asset)
        self.liquidation_fee_bps = parse_int(
            "liquidation_fee_bps", liquidation_fee_bps, minimum=0, maximum=10_000
        )
        self.liquidation_buffer_bps = parse_int(
            "liquidation_buffer_bps", liquidation_buffer_bps, minimum=0, maximum=100_000
        )
        self.journal = journal if journal is not None else Journal()
        self.assets: dict[str, AssetConfig] = {self.quote_asset: AssetConfig(self.quote_asset)}
        self.markets: dict[str, PerpMarket] = {}
        self.marks: dict[str, MarkPrice] = {
            self.quote_asset: MarkPrice(self.quote_asset, SCALE, VALID)
        }
        self.funding_index: dict[str, int] = {}
        self.accounts: dict[str, Account] = {}
        self.subs: dict[str, Subaccount] = {}
        self.holders: dict[str, set[str]] = {}  # mark name -> subaccounts whose cache uses it
        self.other: dict[tuple[str, str], int] = {}  # (market|insurance_fund|fees, asset) -> units
        self.market_sizes: dict[str, int] = {}
        self.net_deposits: dict[str, int] = {}
        # subaccount -> what is below maintenance: CROSS_BREACH and/or isolated symbols
        self.breaches: dict[str, set[str]] = {}
        self.order_cancel_hooks: list[OrderCancelHook] = []

    # --- lookups -------------------------------------------------------------------------------
    def subaccount(self, sub_id: Any) -> Subaccount:
        if not isinstance(sub_id, str) or sub_id not in self.subs:
            raise MarginInputError("subaccount", sub_id, f"one of {sorted(self.subs)}")
        return self.subs[sub_id]

    def known_asset(self, asset: Any) -> str:
        if not isinstance(asset, str) or asset not in self.assets:
            raise MarginInputError("asset", asset, f"one of {sorted(self.assets)}")
        return asset

    def market(self, symbol: Any) -> PerpMarket:
        if not isinstance(symbol, str) or symbol not in self.markets:
            raise MarginInputError("symbol", symbol, f"one of {sorted(self.markets)}")
        return self.markets[symbol]

    def mark_units(self, name: str) -> int:
        """The price of ``name``'s mark in ledger units (a held mark always carries one)."""
        mark = self.marks.get(name)
        if mark is None or mark.price_units is None:
            raise OraclePriceError(name, MISSING)
        return mark.price_units

    def move_funding_index(self, symbol: str, delta: int, rate_units: int) -> None:
        """Add ``delta`` (1e-30 quote per base) to ``symbol``'s funding index for one interval at
        ``rate_units``, refresh its holders and journal it. O(holders of the symbol)."""
        self.funding_index[symbol] += delta
        self.refresh_holders(symbol)
        self.journal.append(
            "funding", symbol=symbol, rate_units=rate_units, index=self.funding_index[symbol]
        )

    def clone(self, journal: Journal | None = None) -> Self:
        """An independent copy of the state sharing the immutable configuration (assets,
        markets, limits: frozen values), with ``journal`` (default a fresh one) and no order
        cancel hooks. Field by field (20x cheaper than deepcopy). O(holdings)."""
        new = copy.copy(self)
        new.journal = journal if journal is not None else Journal()
        new.marks = dict(self.marks)  # MarkPrice values are frozen
        new.funding_index = dict(self.funding_index)
        new.holders = {k: set(v) for k, v in self.holders.items()}
        new.other = dict(self.other)
        new.market_sizes = dict(self.market_sizes)
        new.net_deposits = dict(self.net_deposits)
        new.breaches = {k: set(v) for k, v in self.breaches.items()}
        new.order_cancel_hooks = []
        new.accounts, new.subs = {}, {}
        for name, account in self.accounts.items():
            copied = Account(name)
            for sub_name, sub in account.subaccounts.items():
                twin = Subaccount(
                    sub.name,
                    sub.limits,
                    dict(sub.balances),
                    {k: p.copy() for k, p in sub.positions.items()},
                    dict(sub.leverage),
                    list(sub.open_orders),
                    dict(sub.asset_vals),
                    dict(sub.pos_vals),
                    list(sub.totals),
                )
                copied.subaccounts[sub_name] = twin
                new.subs[sub.name] = twin
            new.accounts[name] = copied
        return new

    # --- projections ---------------------------------------------------------------------------
    def projection(self, sub_id: Any) -> Projection:
        """A fresh what-if view of ``sub_id`` (nothing changes until :meth:`commit`)."""
        return Projection(self, self.subaccount(sub_id))

    def publish_mark(self, mark: MarkPrice) -> None:
        """Set a validated mark, refresh every holder of its name, journal it."""
        self.marks[mark.asset] = mark
        self.refresh_holders(mark.asset)
        self.journal.append(
            "mark", name=mark.asset, price=to_text(self.mark_units(mark.asset)), state=mark.state
        )

    def set_mark_units(self, name: str, price_units: int) -> None:
        """Set a valid mark the caller has checked (a known non-quote name, ``price_units`` > 0
        in ledger units) without journaling it: for a replay of a history already journaled
        where it happened. Refreshes the holders as :meth:`publish_mark` does. O(holders)."""
        self.marks[name] = MarkPrice(name, price_units, VALID)
        self.refresh_holders(name)

    # --- views ---------------------------------------------------------------------------------
    def headroom(self, sub_id: Any) -> Decimal:
        """Initial equity minus total cross IM (quote)."""
        return to_decimal(self.projection(sub_id).headroom)

    def summary(self, sub_id: Any) -> dict[str, Decimal]:
        """Equity (initial and maintenance), IM, MM, headroom, maintenance excess, gross (quote)."""
        scen = self.projection(sub_id)
        t = scen.totals
        return {
            "equity": to_decimal(scen.equity_initial),
            "maintenance_equity": to_decimal(scen.equity_maintenance),
            "initial_margin": to_decimal(scen.initial_margin),
            "maintenance_margin": to_decimal(scen.maintenance_margin),
            "headroom": to_decimal(scen.headroom),
            "maintenance_excess": to_decimal(scen.maintenance_excess),
            "gross_notional": to_decimal(t[GROSS]),
        }

    def margin_units(self, sub_id: str) -> tuple[int, int, int, int, int]:
        """(equity, maintenance equity, initial margin, maintenance margin, headroom) of a known
        ``sub_id`` in ledger units: :meth:`summary`'s figures without building Decimals. O(1)."""
        sub = self.subs[sub_id]
        t = sub.totals
        quote = self.quote_asset
        im, mm = requirements(t, sub.balances.get(quote, 0), self.assets[quote])
        floating = t[UPNL] + t[FUND]
        equity = t[C_INIT] + floating
        return equity, t[C_MAINT] + floating, im, mm, equity - im

    def liquidatable(self) -> list[str]:
        """Subaccounts whose maintenance equity is below total MM (the quote borrow's included),
        or with an isolated position below its own MM, sorted by id: the keys of the breach
        sets. O(breached log breached)."""
        return sorted(self.breaches)

    def below_maintenance(self, sub: Subaccount) -> bool:
        """Whether ``sub`` is liquidatable (see :meth:`liquidatable`), from its cached figures.
        O(positions) at most."""
        quote = self.quote_asset
        return cross_short(
            sub.totals, sub.balances.get(quote, 0), self.assets[quote]
        ) or self.isolated_breach(sub)

    def isolated_breach(self, sub: Subaccount) -> bool:
        """Whether an isolated position of ``sub`` is below its own maintenance margin."""
        return any(isolated_short(pos, sub.pos_vals[s]) for s, pos in sub.positions.items())

    def _set_breach(self, sub_id: str, key: str, short: bool) -> None:
        """Put ``key`` (CROSS_BREACH or an isolated symbol) of ``sub_id`` in or out of the
        breach sets. O(1)."""
        keys = self.breaches.get(sub_id)
        if short:
            if keys is None:
                self.breaches[sub_id] = {key}
            else:
                keys.add(key)
        elif keys is not None and key in keys:
            keys.discard(key)
            if not keys:
                del self.breaches[sub_id]

    def _update_cross_breach(self, sub: Subaccount) -> None:
        quote = self.quote_asset
        short = cross_short(sub.totals, sub.balances.get(quote, 0), self.assets[quote])
        self._set_breach(sub.name, CROSS_BREACH, short)

    def refresh_breaches(self) -> None:
        """Re-derive every subaccount's cross breach from its cached totals: after a change of
        the quote asset's liability weights, which moves the quote borrow's MM of subaccounts
        that need not hold a quote balance. O(subaccounts)."""
        for sub in self.subs.values():
            self._update_cross_breach(sub)

    def balance(self, sub_id: Any, asset: Any) -> Decimal:
        sub = self.subaccount(sub_id)
        return to_decimal(sub.balances.get(self.known_asset(asset), 0))

    def position(self, sub_id: Any, symbol: Any) -> Position | None:
        sub = self.subaccount(sub_id)
        pos = sub.positions.get(self.market(symbol).symbol)
        return None if pos is None else pos.copy()

    def holdings(self, holder: str, asset: str) -> Decimal:
        """Balance of the market, insurance fund or fee pool in ``asset``."""
        return to_decimal(self.other.get((holder, asset), 0))

    def require_price(self, name: str) -> None:
        if name not in self.marks:
            raise OraclePriceError(name, MISSING)

    def require_headroom(self, scen: Projection) -> None:
        """Raise MarginRejected (limit ``headroom``) when the projection's headroom is negative."""
        if scen.headroom < 0:
            raise MarginRejected(
                "headroom",
                scen.sub.name,
                self.quote_asset,
                to_decimal(scen.initial_margin),
                to_decimal(scen.equity_initial),
                to_decimal(-scen.headroom),
            )

    def leverage_of(self, sub: Subaccount, market: PerpMarket) -> int:
        cap = market.tiers.max_leverage
        return min(
            sub.leverage.get(market.symbol, cap),
            sub.limits.max_leverage.get(market.symbol, cap),
            cap,
        )

    def asset_figures(self, asset: str, units: int) -> AssetFigures:
        """Figures of a balance of ``asset`` at its mark (see :meth:`AssetConfig.figures`)."""
        if units == 0:
            return (0, 0, 0, 0, 0)
        price = self.mark_units(asset)
        return self.assets[asset].figures(units, price, asset == self.quote_asset)

    def position_figures(self, sub: Subaccount, pos: Position) -> PositionFigures:
        market = self.markets[pos.symbol]
        return position_figures_at(
            pos,
            self.mark_units(pos.symbol),
            self.funding_index[pos.symbol],
            market.tiers,
            self.leverage_of(sub, market),
        )

    def refresh_holders(self, name: str, skip: str | None = None) -> None:
        """Re-value every subaccount holding ``name`` (but ``skip``, which its caller re-values)
        after its mark or funding index moved. O(holders of the name)."""
        for sub_id in sorted(self.holders.get(name, ())):
            if sub_id == skip:
                continue
            sub = self.subs[sub_id]
            pos = sub.positions.get(name)
            if pos is not None and name not in sub.balances:
                self.revalue_position(sub, pos)
                continue
            scen = Projection(self, sub)
            if name in sub.balances:
                scen.set_balance(name, sub.balances[name])
            if name in sub.positions:
                scen.set_position(name, sub.positions[name])
            self.commit(scen)

    def revalue_position(self, sub: Subaccount, pos: Position) -> None:
        """Re-value ``sub``'s open position ``pos`` at the current mark and funding index, in
        place: what a projection's set_position and its commit do for a position alone, without
        building the projection (a mark moves far more often than anything else). O(tiers)."""
        symbol = pos.symbol
        old = sub.pos_vals[symbol]
        new = self.position_figures(sub, pos)
        sub.pos_vals[symbol] = new
        if pos.mode == CROSS:
            add_cross_position(sub.totals, old, new)
            self._update_cross_breach(sub)
        else:
            sub.totals[GROSS] += new[5] - old[5]
            self._set_breach(sub.name, symbol, isolated_short(pos, new))

    def book_cross_perp_units(
        self,
        sub_id: str,
        symbol: str,
        signed_units: int,
        price_units: int,
        fee_units: int,
        mark_units: int | None = None,
    ) -> bool:
        """Book a validated perp fill (the caller's checks of :meth:`MarginLedger.book_units`) in
        place, when the position is held cross (or opens cross) with its funding settled: what
        a projection's ``trade_perp`` and its commit do, updating the subaccount's caches, the
        flows and the breach sets by delta without building the projection (a replay books
        fills by the hundred thousand). Returns False, having changed nothing, when it does not
        apply (an isolated position, funding to settle): the caller then books through the
        projection. Same arithmetic (:func:`fill_position`), same state, unit for unit.
        ``mark_units``: a new valid mark of ``symbol`` (checked by the caller, as for
        :meth:`set_mark_units`) set with the fill, which re-values the position at it anyway, so
        the mark's own re-valuation of this subaccount is skipped (other holders are refreshed):
        the state of set_mark_units then the booking. O(tiers + other holders).
        """
        sub = self.subs[sub_id]
        pos = sub.positions.get(symbol)
        index = self.funding_index[symbol]
        if pos is None:
            pos = Position(symbol, 0, 0, index, CROSS)
            old: PositionFigures | None = None
        elif pos.mode != CROSS or pos.funding_index != index:
            return False
        else:
            old = sub.pos_vals[symbol]
        if mark_units is not None:
            self.marks[symbol] = MarkPrice(symbol, mark_units, VALID)
            self.refresh_holders(symbol, skip=sub_id)
        size, cost16, realized = fill_position(
            pos.size_units, pos.cost16, signed_units, price_units
        )
        t = sub.totals
        quote = self.quote_asset
        cash = realized - fee_units
        if realized or fee_units:
            units = sub.balances.get(quote, 0) + cash
            before = sub.asset_vals.get(quote, NO_ASSET)
            # asset_figures of the quote: its mark is 1 (SCALE units) for good, so its value is
            # its balance and it has no gross or borrow figures (those are on the totals)
            after = (units, units, 0, 0, 0) if units else NO_ASSET
            t[C_INIT] += after[0] - before[0]
            t[C_MAINT] += after[1] - before[1]
            t[GROSS] += after[2] - before[2]
            t[IM] += after[3] - before[3]
            t[MM] += after[4] - before[4]
            if units:
                sub.balances[quote] = units
                sub.asset_vals[quote] = after
                self.holders.setdefault(quote, set()).add(sub.name)
            else:
                sub.balances.pop(quote, None)
                sub.asset_vals.pop(quote, None)
                if quote not in sub.positions:
                    self.holders.get(quote, set()).discard(sub.name)
            other = self.other
            if realized:
                other[(MARKET, quote)] = other.get((MARKET, quote), 0) - realized
            if fee_units:
                other[(FEES, quote)] = other.get((FEES, quote), 0) + fee_units
        new = None
        if size:
            pos.size_units, pos.cost16 = size, cost16
            new = self.position_figures(sub, pos)
            sub.positions[symbol] = pos
            sub.pos_vals[symbol] = new
            self.holders.setdefault(symbol, set()).add(sub.name)
        else:
            sub.positions.pop(symbol, None)
            sub.pos_vals.pop(symbol, None)
            self.holders.get(symbol, set()).discard(sub.name)
        add_cross_position(t, old or _NO_POSITION, new or _NO_POSITION)
        self._set_breach(sub.name, symbol, False)  # a cross position has no bucket of its own
        self._update_cross_breach(sub)
        self.market_sizes[symbol] = self.market_sizes.get(symbol, 0) - signed_units
        return True

    def commit(self, scen: Projection) -> None:
        """Write a projection's pending changes, caches and holder flows into the book."""
        sub = scen.sub
        for asset, units in scen.balances.items():
            if units:
                sub.balances[asset] = units
                sub.asset_vals[asset] = scen.asset_vals[asset]
                self.holders.setdefault(asset, set()).add(sub.name)
            else:
                sub.balances.pop(asset, None)
                sub.asset_vals.pop(asset, None)
                if not any(asset == p for p in sub.positions):
                    self.holders.get(asset, set()).discard(sub.name)
        for symbol, pos in scen.positions.items():
            if pos is None:
                sub.positions.pop(symbol, None)
                sub.pos_vals.pop(symbol, None)
                self.holders.get(symbol, set()).discard(sub.name)
            else:
                figs = scen.pos_vals[symbol]
                assert figs is not None  # set together with the position
                sub.positions[symbol] = pos
                sub.pos_vals[symbol] = figs
                self.holders.setdefault(symbol, set()).add(sub.name)
        sub.totals[:] = scen.totals
        for symbol, pos in scen.positions.items():
            self._set_breach(
                sub.name, symbol, pos is not None and isolated_short(pos, sub.pos_vals[symbol])
            )
        self._update_cross_breach(sub)
        for key, delta in scen.flows.items():
            self.other[key] = self.other.get(key, 0) + delta
        for symbol, delta in scen.market_sizes.items():
            self.market_sizes[symbol] = self.market_sizes.get(symbol, 0) + delta

    def recompute_totals(self, sub: Subaccount) -> list[int]:
        """Totals from scratch (the naive baseline, and what :meth:`_check` compares against). O(n)."""
        totals = [0] * 7
        for asset, units in sub.balances.items():
            values = self.asset_figures(asset, units)
            totals[C_INIT] += values[0]
            totals[C_MAINT] += values[1]
            totals[GROSS] += values[2]
            totals[IM] += values[3]
            totals[MM] += values[4]
        for pos in sub.positions.values():
            figs = self.position_figures(sub, pos)
            totals[GROSS] += figs[5]
            if pos.mode == CROSS:
                totals[UPNL] += figs[1]
                totals[FUND] += figs[2]
                totals[IM] += figs[3]
                totals[MM] += figs[4]
        return totals

    def snapshot(self) -> tuple[object, ...]:
        """A deep, comparable copy of all state (for 'nothing changed' tests)."""
        subs = tuple(
            (
                s.name,
                tuple(sorted(s.balances.items())),
                tuple(
                    sorted(
                        (
                            k,
                            p.size_units,
                            p.cost16,
                            p.funding_index,
                            p.mode,
                            p.isolated_margin_units,
                        )
                        for k, p in s.positions.items()
                    )
                ),
                tuple(sorted(s.leverage.items())),
                tuple(s.open_orders),
                tuple(s.totals),
                tuple(sorted(s.asset_vals.items())),
                tuple(sorted(s.pos_vals.items())),
            )
            for s in self.subs.values()
        )
        return (
            subs,
            tuple(sorted(self.other.items())),
            tuple(sorted(self.market_sizes.items())),
            tuple(sorted(self.funding_index.items())),
            tuple(sorted(self.marks.items())),
            tuple(sorted(self.net_deposits.items())),
            tuple(sorted(self.assets)),
            tuple(sorted(self.markets)),
            tuple(sorted((k, tuple(sorted(v))) for k, v in self.holders.items())),
            tuple(sorted((k, tuple(sorted(v))) for k, v in self.breaches.items())),
        )

    def _check(self) -> None:
        """Assert every invariant: caches equal a full recompute, the double entry balances per
        asset, perp sizes net to zero against the market, the reverse index is complete, and the
        breach sets equal a full recompute."""
        totals_by_asset: dict[str, int] = {}
        sizes: dict[str, int] = {}
        breaches: dict[str, set[str]] = {}
        quote = self.assets[self.quote_asset]
        for sub in self.subs.values():
            recomputed = self.recompute_totals(sub)
            assert sub.totals == recomputed, (sub.name, sub.totals, recomputed)
            short = {
                s
                for s, pos in sub.positions.items()
                if isolated_short(pos, self.position_figures(sub, pos))
            }
            if cross_short(recomputed, sub.balances.get(quote.name, 0), quote):
                short.add(CROSS_BREACH)
            if short:
                breaches[sub.name] = short
            for asset, units in sub.balances.items():
                assert units != 0
                assert sub.asset_vals[asset] == self.asset_figures(asset, units)
                assert sub.name in self.holders[asset]
                totals_by_asset[asset] = totals_by_asset.get(asset, 0) + units
            for symbol, pos in sub.positions.items():
                assert pos.size_units != 0 and pos.symbol == symbol
                assert pos.mode in (CROSS, ISOLATED)
                assert pos.mode == ISOLATED or pos.isolated_margin_units == 0
                assert sub.pos_vals[symbol] == self.position_figures(sub, pos)
                assert sub.name in self.holders[symbol]
                sizes[symbol] = sizes.get(symbol, 0) + pos.size_units
                totals_by_asset[self.quote_asset] = (
                    totals_by_asset.get(self.quote_asset, 0) + pos.isolated_margin_units
                )
            assert set(sub.asset_vals) == set(sub.balances) and set(sub.pos_vals) == set(
                sub.positions
            )
        for (_holder, asset), units in self.other.items():
            totals_by_asset[asset] = totals_by_asset.get(asset, 0) + units
        for asset in set(totals_by_asset) | set(self.net_deposits):
            assert totals_by_asset.get(asset, 0) == self.net_deposits.get(asset, 0), asset
        for symbol in set(sizes) | set(self.market_sizes):
            assert sizes.get(symbol, 0) + self.market_sizes.get(symbol, 0) == 0, symbol
        # The holder index may keep a subaccount that no longer holds the name (it is pruned
        # lazily), but it must never name a subaccount that does not exist.
        for name, ids in self.holders.items():
            assert ids <= self.subs.keys(), (name, ids - self.subs.keys())
        assert self.breaches == breaches, (self.breaches, breaches)
