"""The margin ledger: the validated operations of the cross-margin core.

:class:`MarginLedger` is the :class:`~router.margin.book.MarginBook` (state, caches, projections)
plus what users and the executor call: configuration, marks, cash, pre-trade checks and bookings,
and liquidation, porting and funding (each a function over the book in its own module, exposed
here as an ordinary method). Every public method validates its input first and raises a
:class:`MarginError` subclass naming the field, the value and what is allowed, before anything
changes; every state change and every pre-trade decision is appended to the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from router.margin.account import (
    ISOLATED,
    Account,
    AssetConfig,
    PerpMarket,
    RiskLimits,
    Subaccount,
    rate_units,
)
from router.margin.book import MarginBook
from router.margin.checks import (
    PERP,
    SPOT,
    CheckResult,
    LedgerLeg,
    SequenceResult,
    run_order,
    search_order,
)
from router.margin.errors import (
    IsolatedBucketRejected,
    MarginInputError,
    MarginRejected,
    OraclePriceError,
)
from router.margin.funding import accrue_funding
from router.margin.interest import accrue_interest
from router.margin.liquidation import LiquidationResult, liquidate, liquidation_price
from router.margin.oracle import MISSING, VALID, MarkPrice
from router.margin.porting import port_position, transfer_collateral
from router.margin.projection import GROSS, Projection
from router.margin.quantities import (
    SCALE,
    WEIGHT_SCALE,
    ceil_div,
    floor_div,
    parse_int,
    parse_name,
    parse_units,
    to_decimal,
    to_text,
)
from router.margin.swap import SpotSwap, apply_swap, swap_step, validate_swap
from router.margin.tiers import TierSchedule


class MarginLedger(MarginBook):
    """The cross-margin core: configuration, marks, subaccounts, checks and state changes.

    Every public method validates its input first and raises a :class:`MarginError` subclass
    naming the field, the value and what is allowed, before anything changes. Every state change
    and every pre-trade decision is appended to :attr:`journal`.
    """

    # --- configuration -----------------------------------------------------------------------
    def add_asset(
        self,
        name: Any,
        initial_weight: Any = "1",
        maintenance_weight: Any = None,
        initial_liability_weight: Any = None,
        maintenance_liability_weight: Any = None,
        borrow_limit: Any = None,
        borrow_rate: Any = "0",
    ) -> None:
        """Register a collateral asset with its weights (decimal strings in [0, 1], liabilities
        >= 1, default 1.1 / 1.05), borrow limit (units of the asset, None for none) and yearly
        borrow rate (see :meth:`AssetConfig.parse`)."""
        cfg = AssetConfig.parse(
            name,
            initial_weight,
            maintenance_weight,
            initial_liability_weight,
            maintenance_liability_weight,
            borrow_limit,
            borrow_rate,
        )
        if cfg.name in self.assets or cfg.name in self.markets:
            raise MarginInputError("asset", name, "a name not yet registered")
        self.assets[cfg.name] = cfg
        self._journal_asset("add_asset", cfg)

    def set_borrow_terms(
        self,
        asset: Any,
        initial_liability_weight: Any = None,
        maintenance_liability_weight: Any = None,
        borrow_limit: Any = None,
        borrow_rate: Any = "0",
    ) -> None:
        """Set the liability weights, borrow limit and rate of a registered asset (the quote
        asset included: a spot buy beyond cash borrows it). Holders are re-valued; an existing
        borrow beyond a lower limit is not undone, only further borrowing is refused."""
        name = self.known_asset(asset)
        old = self.assets[name]
        cfg = AssetConfig.parse(
            name,
            to_decimal(old.initial_weight_ppm, WEIGHT_SCALE),
            to_decimal(old.maintenance_weight_ppm, WEIGHT_SCALE),
            initial_liability_weight,
            maintenance_liability_weight,
            borrow_limit,
            borrow_rate,
        )
        self.assets[name] = cfg
        self.refresh_holders(name)
        if name == self.quote_asset:
            self.refresh_breaches()
        self._journal_asset("set_borrow_terms", cfg)

    def _journal_asset(self, event: str, cfg: AssetConfig) -> None:
        self.journal.append(
            event,
            asset=cfg.name,
            initial_weight_ppm=cfg.initial_weight_ppm,
            maintenance_weight_ppm=cfg.maintenance_weight_ppm,
            initial_liability_ppm=cfg.initial_liability_ppm,
            maintenance_liability_ppm=cfg.maintenance_liability_ppm,
            borrow_limit=None
            if cfg.borrow_limit_units is None
            else to_text(cfg.borrow_limit_units),
            borrow_rate_units=cfg.borrow_rate_units,
        )

    def add_market(
        self,
        symbol: Any,
        oracle_asset: Any,
        *,
        max_leverage: Any = None,
        tiers: Any = None,
        funding_cap: Any = "0.0005",
        initial_margin_fraction: Any = None,
        maintenance_margin_fraction: Any = None,
        funding_interest: Any = "0",
        funding_band: Any = "0",
        funding_interval_hours: Any = 8,
    ) -> None:
        """Register a perp market with exactly one rule set: ``max_leverage`` (one tier),
        ``tiers`` (leverage tiers or Binance brackets), or ``initial_margin_fraction`` with
        ``maintenance_margin_fraction`` (dYdX); see :mod:`router.margin.tiers`. Funding: the cap,
        interest component and clamp band per 8 hours (fractions) and the interval length in
        hours (1-8); see :mod:`router.margin.funding`."""
        symbol = parse_name("symbol", symbol)
        oracle_asset = parse_name("oracle_asset", oracle_asset)
        if symbol in self.markets or symbol in self.assets:
            raise MarginInputError("symbol", symbol, "a name not yet registered")
        fractions = (initial_margin_fraction, maintenance_margin_fraction)
        given = [max_leverage is not None, tiers is not None, fractions != (None, None)]
        if sum(given) != 1:
            raise MarginInputError(
                "tiers",
                tiers,
                "exactly one of max_leverage, tiers, or initial_margin_fraction with "
                "maintenance_margin_fraction",
            )
        if given[2]:
            if None in fractions:
                missing = "initial" if initial_margin_fraction is None else "maintenance"
                raise MarginInputError(
                    f"{missing}_margin_fraction", None, "present with the other fraction"
                )
            schedule = TierSchedule.fractions(*fractions)
        elif tiers is None:
            schedule = TierSchedule.single(max_leverage)
        else:
            schedule = TierSchedule(tiers)
        cap = rate_units(funding_cap, "funding_cap")
        if cap < 0:
            raise MarginInputError("funding_cap", funding_cap, ">= 0")
        interest = rate_units(funding_interest, "funding_interest")
        band = rate_units(funding_band, "funding_band")
        if band < 0:
            raise MarginInputError("funding_band", funding_band, ">= 0")
        hours = parse_int("funding_interval_hours", funding_interval_hours, minimum=1, maximum=8)
        self.markets[symbol] = PerpMarket(
            symbol, oracle_asset, schedule, cap, interest, band, hours
        )
        self.funding_index[symbol] = 0
        self.journal.append(
            "add_market",
            symbol=symbol,
            oracle_asset=oracle_asset,
            tiers=schedule.describe(),
            funding_cap_units=cap,
        )

    def set_mark(self, name: Any, price: Any, state: Any = VALID) -> None:
        """Set the mark of an asset, market or oracle asset (decimal > 0), with its validity state."""
        name = parse_name("name", name)
        if name == self.quote_asset:
            raise MarginInputError("name", name, "not the quote asset (its mark is 1)")
        units = parse_units("price", price, positive=True)
        if state not in (VALID, "stale", "no_quorum"):
            raise MarginInputError("state", state, "valid, stale or no_quorum")
        self.publish_mark(MarkPrice(name, units, state))

    def apply_oracle(self, mark: Any) -> None:
        """Set a mark from an aggregated :class:`MarkPrice` (e.g. ``OracleBook.mark(...)``).
        A ``missing`` mark keeps the last known price but marks it invalid."""
        if not isinstance(mark, MarkPrice) or mark.asset == self.quote_asset:
            raise MarginInputError("mark", mark, "a MarkPrice of a non-quote name")
        if mark.price_units is None:
            held = self.marks.get(mark.asset)
            if held is None:
                raise OraclePriceError(mark.asset, MISSING)
            mark = MarkPrice(mark.asset, held.price_units, MISSING)
        self.publish_mark(mark)

    def open_subaccount(self, account: Any, name: Any, limits: RiskLimits | None = None) -> str:
        """Create ``account/name`` and return its id."""
        account = parse_name("account", account)
        name = parse_name("subaccount", name)
        if "/" in account or "/" in name:
            raise MarginInputError("subaccount", f"{account}/{name}", "names without '/'")
        if limits is not None and not isinstance(limits, RiskLimits):
            raise MarginInputError("limits", limits, "a RiskLimits or None")
        sub_id = f"{account}/{name}"
        if sub_id in self.subs:
            raise MarginInputError("subaccount", sub_id, "a new subaccount id")
        sub = Subaccount(sub_id, limits or RiskLimits())
        self.accounts.setdefault(account, Account(account)).subaccounts[name] = sub
        self.subs[sub_id] = sub
        self.journal.append("open_subaccount", subaccount=sub_id)
        return sub_id

    def set_leverage(self, sub_id: Any, symbol: Any, leverage: Any) -> None:
        """Set the user leverage of ``symbol`` (IM divisor), at most the market's and the limit's cap."""
        sub = self.subaccount(sub_id)
        market = self.market(symbol)
        cap = min(
            market.tiers.max_leverage,
            sub.limits.max_leverage.get(market.symbol, market.tiers.max_leverage),
        )
        lev = parse_int("leverage", leverage, minimum=1, maximum=cap)
        scen = Projection(self, sub)
        old = sub.leverage.get(market.symbol)
        sub.leverage[market.symbol] = lev
        pos = scen.position(market.symbol)
        if pos is not None:
            scen.set_position(market.symbol, pos.copy())
            if scen.headroom < 0 and (old is None or lev < old):
                if old is None:
                    del sub.leverage[market.symbol]
                else:
                    sub.leverage[market.symbol] = old
                raise MarginRejected(
                    "headroom",
                    sub.name,
                    self.quote_asset,
                    to_decimal(scen.initial_margin),
                    to_decimal(scen.equity_initial),
                    to_decimal(-scen.headroom),
                )
            self.commit(scen)
        self.journal.append("set_leverage", subaccount=sub.name, symbol=market.symbol, leverage=lev)

    # --- cash ----------------------------------------------------------------------------------
    def deposit(self, sub_id: Any, asset: Any, amount: Any) -> None:
        """Credit ``amount`` (> 0) of ``asset`` from outside. Non-quote assets need a mark."""
        sub = self.subaccount(sub_id)
        asset = self.known_asset(asset)
        units = parse_units("amount", amount, positive=True)
        self.require_price(asset)
        scen = Projection(self, sub)
        scen.add_balance(asset, units)
        self.commit(scen)
        self.net_deposits[asset] = self.net_deposits.get(asset, 0) + units
        self.journal.append("deposit", subaccount=sub.name, asset=asset, amount=to_text(units))

    def withdraw(self, sub_id: Any, asset: Any, amount: Any) -> None:
        """Send ``amount`` of ``asset`` out; at most the balance, and headroom must stay >= 0."""
        sub = self.subaccount(sub_id)
        asset = self.known_asset(asset)
        units = parse_units(
            "amount", amount, positive=True, maximum=max(sub.balances.get(asset, 0), 0)
        )
        scen = Projection(self, sub)
        scen.add_balance(asset, -units)
        self.require_headroom(scen)
        self.commit(scen)
        self.net_deposits[asset] = self.net_deposits.get(asset, 0) - units
        self.journal.append("withdraw", subaccount=sub.name, asset=asset, amount=to_text(units))

    def add_isolated_margin(self, sub_id: Any, symbol: Any, amount: Any) -> None:
        """Move ``amount`` (> 0, quote, at most the quote balance) from the cross balance into the
        margin bucket of the subaccount's isolated ``symbol`` position.

        Cross headroom must stay >= 0 afterwards, else MarginRejected (limit ``headroom``) and
        nothing changes. Exact: no rounding (the bucket is cash, not valued at a mark). The
        position's own figures are unchanged; only the quote balance's do, so O(1).
        """
        sub = self.subaccount(sub_id)
        market = self.market(symbol)
        pos = sub.positions.get(market.symbol)
        if pos is None or pos.mode != ISOLATED:
            raise MarginInputError(
                "symbol",
                symbol,
                f"an isolated position of {sub.name}: "
                f"{sorted(s for s, p in sub.positions.items() if p.mode == ISOLATED)}",
            )
        quote = self.quote_asset
        units = parse_units(
            "amount", amount, positive=True, maximum=max(sub.balances.get(quote, 0), 0)
        )
        scen = Projection(self, sub)
        topped = pos.copy()
        topped.isolated_margin_units += units
        scen.add_balance(quote, -units)
        scen.set_position(market.symbol, topped)
        self.require_headroom(scen)
        self.commit(scen)
        self.journal.append(
            "add_isolated_margin",
            subaccount=sub.name,
            symbol=market.symbol,
            amount=to_text(units),
            isolated_margin=to_text(topped.isolated_margin_units),
        )

    # --- pre-trade checks ------------------------------------------------------------------
    def check_leg(self, sub_id: Any, leg: Any) -> CheckResult:
        """Would ``leg``, filled at its worst price with its fee, keep the subaccount within margin?

        Accepts when headroom after >= 0 (or the leg reduces risk and does not lower headroom),
        a position held isolated keeps a bucket >= 0 (limit ``isolated_bucket``: a voluntary trade
        never charges an isolated loss to cross or to the fund) and, for a risk-increasing leg,
        its mark is valid and every limit holds. Read-only except
        for the journal entry. O(tiers), independent of the number of positions.
        """
        sub = self.subaccount(sub_id)
        self._leg(leg)
        _, result = self._step(Projection(self, sub), leg, None)
        self.journal.append(
            "check_leg", subaccount=sub.name, leg=leg.to_json(), result=result.to_json()
        )
        return result

    def check_legs(self, sub_id: Any, legs: Any) -> SequenceResult:
        """Check every prefix of ``legs`` in the given order; if one fails, search for an order
        whose every prefix passes (see :func:`router.margin.checks.search_order`)."""
        sub = self.subaccount(sub_id)
        if not isinstance(legs, (list, tuple)) or not legs:
            raise MarginInputError("legs", legs, "a non-empty list of LedgerLeg")
        for leg in legs:
            self._leg(leg)
        legs = tuple(legs)

        def step(state: Projection, i: int) -> tuple[Projection, CheckResult]:
            return self._step(state, legs[i], i)

        result = self._sequence(sub, len(legs), step)
        self.journal.append(
            "check_legs",
            subaccount=sub.name,
            legs=[leg.to_json() for leg in legs],
            result=result.to_json(),
        )
        return result

    def check_swaps(self, sub_id: Any, moves: Any) -> SequenceResult:
        """:meth:`check_legs` of a sequence that holds :class:`~router.margin.swap.SpotSwap` of
        two assets (multi-hop route hops such as ETH/USDT or USDC/USDT) besides ordinary legs."""
        sub = self.subaccount(sub_id)
        if not isinstance(moves, (list, tuple)) or not moves:
            raise MarginInputError("moves", moves, "a non-empty list of SpotSwap or LedgerLeg")
        for move in moves:
            if isinstance(move, LedgerLeg):
                self._leg(move)
            else:
                validate_swap(self, move)
        moves = tuple(moves)

        def step(state: Projection, i: int) -> tuple[Projection, CheckResult]:
            move = moves[i]
            if isinstance(move, SpotSwap):
                return swap_step(self, state, move, i)
            return self._step(state, move, i)

        result = self._sequence(sub, len(moves), step)
        self.journal.append(
            "check_swaps",
            subaccount=sub.name,
            moves=[move.to_json() for move in moves],
            result=result.to_json(),
        )
        return result

    def _sequence(
        self,
        sub: Subaccount,
        n: int,
        step: Callable[[Projection, int], tuple[Projection, CheckResult]],
    ) -> SequenceResult:
        """Every prefix of steps 0..n-1 in order; if one fails, a searched order that passes."""
        start = Projection(self, sub)
        given = tuple(range(n))
        _, steps, failure = run_order(start, given, step)
        order: tuple[int, ...] | None = given
        exhaustive = True
        if failure is not None:
            order, exhaustive = search_order(start, n, step)
            if order is not None:
                _, steps, replay_failure = run_order(start, order, step)
                if replay_failure is not None:  # rounding made the memo wrong: report no order
                    order, steps = None, []
        return SequenceResult(
            order is not None,
            order or (),
            order is not None and order != given,
            tuple(steps) if order is not None else (),
            failure,
            exhaustive,
        )

    def apply_swap(self, sub_id: Any, swap: Any) -> CheckResult:
        """Check a :class:`~router.margin.swap.SpotSwap` and book both assets exactly, or raise
        MarginRejected (:func:`router.margin.swap.apply_swap`)."""
        return apply_swap(self, sub_id, swap)

    def apply_leg(self, sub_id: Any, leg: Any) -> CheckResult:
        """Check ``leg`` and, if accepted, book it at its worst price; else raise MarginRejected."""
        sub = self.subaccount(sub_id)
        self._leg(leg)
        scen, result = self._step(Projection(self, sub), leg, None)
        if not result.accepted:
            self.journal.append(
                "reject_leg", subaccount=sub.name, leg=leg.to_json(), result=result.to_json()
            )
            if result.limit == "isolated_bucket":
                raise IsolatedBucketRejected(
                    sub.name,
                    leg.symbol,
                    result.asset or self.quote_asset,
                    result.available,
                    result.shortfall,
                )
            raise MarginRejected.from_check(result, sub.name, self.quote_asset)
        self.commit(scen)
        self.journal.append(
            "apply_leg", subaccount=sub.name, leg=leg.to_json(), result=result.to_json()
        )
        return result

    def book_leg(self, sub_id: Any, leg: Any) -> None:
        """Book a leg that has already happened (an imported fill) at its price, with no pre-trade
        check: a replay must show an account that traded itself below margin, not refuse the
        trade. Spot beyond holdings becomes a negative balance (a borrow). O(tiers)."""
        sub = self.subaccount(sub_id)
        self._leg(leg)
        self.book_units(
            sub.name,
            leg.kind,
            leg.symbol,
            leg.signed_units,
            leg.price_units,
            leg.fee_units,
            leg.isolated_margin_units,
        )
        self.journal.append("book_leg", subaccount=sub.name, leg=leg.to_json())

    def book_units(
        self,
        sub_id: str,
        kind: str,
        symbol: str,
        signed_units: int,
        price_units: int,
        fee_units: int,
        isolated_margin_units: int | None = None,
    ) -> None:
        """:meth:`book_leg` of a leg its caller has validated, in ledger units (a known
        subaccount, a known and marked ``symbol``, price > 0, fee >= 0), with no journal entry:
        for a replay that checked every row once on import and whose history is journaled
        where it happened. O(tiers)."""
        scen = Projection(self, self.subs[sub_id])
        if kind == SPOT:
            scen.trade_spot(symbol, signed_units, price_units, fee_units)
        else:
            scen.trade_perp(symbol, signed_units, price_units, fee_units, isolated_margin_units)
        self.commit(scen)

    def _step(
        self, scen: Projection, leg: LedgerLeg, index: int | None
    ) -> tuple[Projection, CheckResult]:
        before = scen.headroom
        new = scen.copy()
        increasing = self._risk_increasing(scen, leg)
        bucket: int | None = None  # what an isolated position's bucket is left with
        if leg.kind == SPOT:
            new.trade_spot(leg.symbol, leg.signed_units, leg.price_units, leg.fee_units)
        else:
            bucket = self._trade_perp_voluntary(new, leg)
        after = new.headroom
        q = self.quote_asset

        def result(
            limit: str | None = None,
            asset: str | None = None,
            required: int = 0,
            available: int = 0,
        ) -> tuple[Projection, CheckResult]:
            if limit is None:
                return new, CheckResult(
                    True, to_decimal(before), to_decimal(after), increasing, leg_index=index
                )
            return scen, CheckResult(
                False,
                to_decimal(before),
                to_decimal(after),
                increasing,
                limit,
                asset,
                to_decimal(required),
                to_decimal(available),
                to_decimal(required - available),
                index,
            )

        mark = self.marks.get(leg.symbol)
        if increasing and (mark is None or not mark.valid):
            return result("price_invalid", leg.symbol, 0, 0)
        if bucket is not None and bucket < 0:
            return result("isolated_bucket", q, 0, bucket)
        if after < 0 and (increasing or after < before):
            return result("headroom", q, new.initial_margin, new.equity_initial)
        for asset in (leg.symbol, q) if leg.kind == SPOT else (q,):
            limit = self.assets[asset].borrow_limit_units
            owed = -new.balance(asset)
            if limit is not None and owed > limit and owed > -scen.balance(asset):
                return result("borrow_limit", asset, owed, limit)
        if leg.kind == PERP:
            pos = new.position(leg.symbol)
            if pos is not None and pos.mode == ISOLATED and increasing:
                figs = new.open_figures(leg.symbol)
                bucket = pos.isolated_margin_units + figs[1] + figs[2]
                if bucket < figs[3]:
                    return result("isolated_margin", q, figs[3], bucket)
            if increasing and leg.symbol in new.sub.limits.max_notional_units:
                cap = new.sub.limits.max_notional_units[leg.symbol]
                n16 = new.open_figures(leg.symbol)[0] if pos is not None else 0
                if n16 > cap * SCALE:
                    return result("max_notional", leg.symbol, ceil_div(n16, SCALE), cap)
        gross_cap = new.sub.limits.max_gross_leverage_ppm
        if increasing and gross_cap is not None:
            allowed = floor_div(max(new.equity_initial, 0) * gross_cap, WEIGHT_SCALE)
            if new.totals[GROSS] > allowed:
                return result("max_gross_leverage", q, new.totals[GROSS], allowed)
        return result()

    def _trade_perp_voluntary(self, new: Projection, leg: LedgerLeg) -> int | None:
        """Book a trader's perp leg on ``new``; for a position held isolated before the leg, return
        the bucket it leaves (quote units), else None.

        The bucket after the leg is min(cash, cash + upnl + unsettled funding) of what is left, or
        the cash left over on a full close: a negative value is a loss beyond the posted margin,
        which only liquidation may book (as the fund's bad debt). A voluntary trade must not push
        it onto the cross balance either, so the caller refuses the leg; the closed bucket is
        released to the quote balance here only so that a refused scenario still reports the
        headroom it would have had. O(tiers).
        """
        held = new.position(leg.symbol)
        if held is None or held.mode != ISOLATED:
            new.trade_perp(
                leg.symbol,
                leg.signed_units,
                leg.price_units,
                leg.fee_units,
                leg.isolated_margin_units,
            )
            return None
        left = new.trade_perp(
            leg.symbol,
            leg.signed_units,
            leg.price_units,
            leg.fee_units,
            leg.isolated_margin_units,
            release_isolated=False,
        )
        pos = new.position(leg.symbol)
        if pos is None:
            new.add_balance(self.quote_asset, left)
            return left
        figs = new.open_figures(leg.symbol)
        return min(pos.isolated_margin_units, pos.isolated_margin_units + figs[1] + figs[2])

    def _risk_increasing(self, scen: Projection, leg: LedgerLeg) -> bool:
        if leg.kind == SPOT:
            held = scen.balance(leg.symbol)
        else:
            pos = scen.position(leg.symbol)
            held = 0 if pos is None else pos.size_units
        new = held + leg.signed_units
        # reducing = moving toward zero without crossing it
        return not (held != 0 and abs(new) < abs(held) and (new == 0 or (new > 0) == (held > 0)))

    # --- orders ----------------------------------------------------------------------------------
    def add_open_order(self, sub_id: Any, order_id: Any) -> None:
        """Track an open order of the subaccount (cancelled first when it is liquidated)."""
        sub = self.subaccount(sub_id)
        order_id = parse_name("order_id", order_id)
        if order_id in sub.open_orders:
            raise MarginInputError("order_id", order_id, "an id not already open")
        sub.open_orders.append(order_id)

    def _leg(self, leg: Any) -> None:
        if not isinstance(leg, LedgerLeg):
            raise MarginInputError("leg", leg, "a LedgerLeg")
        if leg.kind == SPOT:
            if leg.symbol == self.quote_asset:
                raise MarginInputError("symbol", leg.symbol, "a non-quote asset for a spot leg")
            self.known_asset(leg.symbol)
        else:
            self.market(leg.symbol)
        if leg.symbol not in self.marks:
            raise OraclePriceError(leg.symbol, MISSING)

    # --- liquidation, porting, funding (functions over the book's projection API) ----------------
    def liquidate(self, sub_id: Any) -> LiquidationResult:
        """Liquidate ``sub_id`` if below maintenance (see :mod:`router.margin.liquidation`)."""
        return liquidate(self, sub_id)

    def liquidation_price(self, sub_id: Any, symbol: Any) -> Decimal | None:
        """Liquidation price of the position on the cent grid, rounded against the account, or None."""
        return liquidation_price(self, sub_id, symbol)

    def port_position(
        self, src_id: Any, dst_id: Any, symbol: Any, size: Any, *, at_mark: bool = False
    ) -> None:
        """Port ``size`` of a cross position keeping its entry price (or trading it at the mark
        with ``at_mark``); both sides keep headroom >= 0."""
        port_position(self, src_id, dst_id, symbol, size, at_mark=at_mark)

    def transfer_collateral(self, src_id: Any, dst_id: Any, asset: Any, amount: Any) -> None:
        """Transfer collateral; both sides keep headroom >= 0."""
        transfer_collateral(self, src_id, dst_id, asset, amount)

    def accrue_interest(self, elapsed_ns: Any) -> Decimal:
        """Charge borrow interest for ``elapsed_ns`` of the simulated clock on every negative
        balance (see :mod:`router.margin.interest`); returns the total charged in quote."""
        return accrue_interest(self, elapsed_ns)

    def accrue_funding(self, symbol: Any, premiums: Any = None) -> Decimal:
        """Accrue one funding interval on ``symbol`` (see :mod:`router.margin.funding`): from the
        interval's premium samples, or the premium of its mark over its oracle asset's mark now
        (both valid, else OraclePriceError); returns the rate. O(holders + samples)."""
        return accrue_funding(self, symbol, premiums)
