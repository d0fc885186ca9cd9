"""The margin ledger: subaccount state, cached aggregates, marks, and exact what-if scenarios.

Double entry: every unit of every asset sits with a subaccount (balance or isolated margin), the
market (the counterparty of every trade and funding payment), the insurance fund or the fee pool;
their sum per asset always equals net deposits, and perp sizes plus the market's sum to zero.

Each subaccount caches per-asset collateral values and per-position figures (upnl, unsettled
funding, IM, MM, notional) and their totals, so a pre-trade check touches only the leg's asset and
position: O(1) in the number of positions. A mark or funding-index change refreshes only the
subaccounts that hold that name (reverse index). Every figure is rounded against the account.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from router.margin.account import (
    CROSS,
    ISOLATED,
    Account,
    AssetConfig,
    PerpMarket,
    Position,
    RiskLimits,
    Subaccount,
    rate_units,
)
from router.margin.checks import (
    PERP,
    SPOT,
    CheckResult,
    Leg,
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
from router.margin.journal import Journal
from router.margin.oracle import MISSING, VALID, MarkPrice
from router.margin.quantities import (
    INDEX_SCALE,
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
from router.margin.tiers import TierSchedule

# indices into Subaccount.totals (cross only, except GROSS which counts every exposure)
C_INIT, C_MAINT, UPNL, FUND, IM, MM, GROSS = range(7)
MARKET, FUND_HOLDER, FEES = "market", "insurance_fund", "fees"


def _pos_figures(
    pos: Position, mark_units: int, index: int, tiers: TierSchedule, leverage: int
) -> tuple[int, int, int, int, int, int]:
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


class Scenario:
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

    def __init__(self, ledger: MarginLedger, sub: Subaccount) -> None:
        self.ledger = ledger
        self.sub = sub
        self.balances: dict[str, int] = {}
        self.positions: dict[str, Position | None] = {}
        self.asset_vals: dict[str, tuple[int, int, int]] = {}
        self.pos_vals: dict[str, tuple] = {}
        self.totals = list(sub.totals)
        self.flows: dict[tuple[str, str], int] = {}
        self.market_sizes: dict[str, int] = {}

    def copy(self) -> Scenario:
        other = Scenario.__new__(Scenario)
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

    def figures(self, symbol: str) -> tuple | None:
        if symbol in self.pos_vals:
            return self.pos_vals[symbol]
        return self.sub.pos_vals.get(symbol)

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
        return self.equity_initial - self.totals[IM]

    @property
    def maintenance_excess(self) -> int:
        return self.equity_maintenance - self.totals[MM]

    # --- writes ------------------------------------------------------------------------------
    def flow(self, holder: str, asset: str, delta: int) -> None:
        if delta:
            self.flows[(holder, asset)] = self.flows.get((holder, asset), 0) + delta

    def set_balance(self, asset: str, units: int) -> None:
        old = self.asset_vals.get(asset) or self.sub.asset_vals.get(asset, (0, 0, 0))
        new = self.ledger._asset_figures(asset, units)
        self.balances[asset] = units
        self.asset_vals[asset] = new
        t = self.totals
        t[C_INIT] += new[0] - old[0]
        t[C_MAINT] += new[1] - old[1]
        t[GROSS] += new[2] - old[2]

    def add_balance(self, asset: str, delta: int) -> None:
        if delta:
            self.set_balance(asset, self.balance(asset) + delta)

    def set_position(self, symbol: str, pos: Position | None) -> None:
        old_pos = self.position(symbol)
        old = self.figures(symbol)
        new = None if pos is None else self.ledger._position_figures(self.sub, pos)
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
        remaining = signed_units
        if pos.size_units and (pos.size_units > 0) != (remaining > 0):
            close = pos.size_units if abs(remaining) >= abs(pos.size_units) else -remaining
            closed_cost = ceil_div(pos.cost16 * close, pos.size_units)  # against the account
            realized = floor_div(close * price_units - closed_cost, SCALE)
            pos.size_units -= close
            pos.cost16 -= closed_cost
            remaining += close
            self._cash(pos, realized, counterparty)
        if remaining:
            pos.size_units += remaining
            pos.cost16 += remaining * price_units
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


class MarginLedger:
    """The cross-margin core: configuration, marks, subaccounts, checks and state changes.

    Every public method validates its input first and raises a :class:`MarginError` subclass
    naming the field, the value and what is allowed, before anything changes. Every state change
    and every pre-trade decision is appended to :attr:`journal`.
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
        self.order_cancel_hooks: list[Callable[[str, list], None]] = []

    # --- configuration -----------------------------------------------------------------------
    def add_asset(
        self,
        name: Any,
        initial_weight: Any = "1",
        maintenance_weight: Any = None,
        initial_liability_weight: Any = "1",
        maintenance_liability_weight: Any = "1",
    ) -> None:
        """Register a collateral asset with its weights (decimal strings in [0, 1], liabilities >= 1)."""
        cfg = AssetConfig.parse(
            name,
            initial_weight,
            maintenance_weight,
            initial_liability_weight,
            maintenance_liability_weight,
        )
        if cfg.name in self.assets or cfg.name in self.markets:
            raise MarginInputError("asset", name, "a name not yet registered")
        self.assets[cfg.name] = cfg
        self.journal.append(
            "add_asset",
            asset=cfg.name,
            initial_weight_ppm=cfg.initial_weight_ppm,
            maintenance_weight_ppm=cfg.maintenance_weight_ppm,
        )

    def add_market(
        self,
        symbol: Any,
        oracle_asset: Any,
        *,
        max_leverage: Any = None,
        tiers: Any = None,
        funding_cap: Any = "0.0005",
    ) -> None:
        """Register a perp market with either ``max_leverage`` (one tier) or ``tiers``."""
        symbol = parse_name("symbol", symbol)
        oracle_asset = parse_name("oracle_asset", oracle_asset)
        if symbol in self.markets or symbol in self.assets:
            raise MarginInputError("symbol", symbol, "a name not yet registered")
        if (max_leverage is None) == (tiers is None):
            raise MarginInputError("tiers", tiers, "exactly one of max_leverage or tiers")
        schedule = TierSchedule.single(max_leverage) if tiers is None else TierSchedule(tiers)
        cap = rate_units(funding_cap, "funding_cap")
        if cap < 0:
            raise MarginInputError("funding_cap", funding_cap, ">= 0")
        self.markets[symbol] = PerpMarket(symbol, oracle_asset, schedule, cap)
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
        self._set_mark(MarkPrice(name, units, state))

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
        self._set_mark(mark)

    def _set_mark(self, mark: MarkPrice) -> None:
        self.marks[mark.asset] = mark
        for sub_id in sorted(self.holders.get(mark.asset, ())):
            self._refresh(self.subs[sub_id], mark.asset)
        self.journal.append(
            "mark", name=mark.asset, price=to_text(mark.price_units), state=mark.state
        )

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
        sub = self._sub(sub_id)
        market = self._market(symbol)
        cap = min(
            market.tiers.max_leverage,
            sub.limits.max_leverage.get(market.symbol, market.tiers.max_leverage),
        )
        lev = parse_int("leverage", leverage, minimum=1, maximum=cap)
        scen = Scenario(self, sub)
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
                    to_decimal(scen.totals[IM]),
                    to_decimal(scen.equity_initial),
                    to_decimal(-scen.headroom),
                )
            self._commit(scen)
        self.journal.append("set_leverage", subaccount=sub.name, symbol=market.symbol, leverage=lev)

    # --- cash ----------------------------------------------------------------------------------
    def deposit(self, sub_id: Any, asset: Any, amount: Any) -> None:
        """Credit ``amount`` (> 0) of ``asset`` from outside. Non-quote assets need a mark."""
        sub = self._sub(sub_id)
        asset = self._asset(asset)
        units = parse_units("amount", amount, positive=True)
        self._require_price(asset)
        scen = Scenario(self, sub)
        scen.add_balance(asset, units)
        self._commit(scen)
        self.net_deposits[asset] = self.net_deposits.get(asset, 0) + units
        self.journal.append("deposit", subaccount=sub.name, asset=asset, amount=to_text(units))

    def withdraw(self, sub_id: Any, asset: Any, amount: Any) -> None:
        """Send ``amount`` of ``asset`` out; at most the balance, and headroom must stay >= 0."""
        sub = self._sub(sub_id)
        asset = self._asset(asset)
        units = parse_units(
            "amount", amount, positive=True, maximum=max(sub.balances.get(asset, 0), 0)
        )
        scen = Scenario(self, sub)
        scen.add_balance(asset, -units)
        self._require_headroom(scen)
        self._commit(scen)
        self.net_deposits[asset] = self.net_deposits.get(asset, 0) - units
        self.journal.append("withdraw", subaccount=sub.name, asset=asset, amount=to_text(units))

    def add_isolated_margin(self, sub_id: Any, symbol: Any, amount: Any) -> None:
        """Move ``amount`` (> 0, quote, at most the quote balance) from the cross balance into the
        margin bucket of the subaccount's isolated ``symbol`` position.

        Cross headroom must stay >= 0 afterwards, else MarginRejected (limit ``headroom``) and
        nothing changes. Exact: no rounding (the bucket is cash, not valued at a mark). The
        position's own figures are unchanged; only the quote balance's do, so O(1).
        """
        sub = self._sub(sub_id)
        market = self._market(symbol)
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
        scen = Scenario(self, sub)
        topped = pos.copy()
        topped.isolated_margin_units += units
        scen.add_balance(quote, -units)
        scen.set_position(market.symbol, topped)
        self._require_headroom(scen)
        self._commit(scen)
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
        sub = self._sub(sub_id)
        self._leg(leg)
        _, result = self._step(Scenario(self, sub), leg, None)
        self.journal.append(
            "check_leg", subaccount=sub.name, leg=leg.to_json(), result=result.to_json()
        )
        return result

    def check_legs(self, sub_id: Any, legs: Any) -> SequenceResult:
        """Check every prefix of ``legs`` in the given order; if one fails, search for an order
        whose every prefix passes (see :func:`router.margin.checks.search_order`)."""
        sub = self._sub(sub_id)
        if not isinstance(legs, (list, tuple)) or not legs:
            raise MarginInputError("legs", legs, "a non-empty list of Leg")
        for leg in legs:
            self._leg(leg)
        legs = tuple(legs)

        def step(state: Scenario, i: int) -> tuple[Scenario, CheckResult]:
            return self._step(state, legs[i], i)

        start = Scenario(self, sub)
        given = tuple(range(len(legs)))
        _, steps, failure = run_order(start, given, step)
        order: tuple[int, ...] | None = given
        exhaustive = True
        if failure is not None:
            order, exhaustive = search_order(start, len(legs), step)
            if order is not None:
                _, steps, replay_failure = run_order(start, order, step)
                if replay_failure is not None:  # rounding made the memo wrong: report no order
                    order, steps = None, []
        result = SequenceResult(
            order is not None,
            order or (),
            order is not None and order != given,
            tuple(steps) if order is not None else (),
            failure,
            exhaustive,
        )
        self.journal.append(
            "check_legs",
            subaccount=sub.name,
            legs=[leg.to_json() for leg in legs],
            result=result.to_json(),
        )
        return result

    def apply_leg(self, sub_id: Any, leg: Any) -> CheckResult:
        """Check ``leg`` and, if accepted, book it at its worst price; else raise MarginRejected."""
        sub = self._sub(sub_id)
        self._leg(leg)
        scen, result = self._step(Scenario(self, sub), leg, None)
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
            raise MarginRejected(
                result.limit or "",
                sub.name,
                result.asset or self.quote_asset,
                result.required,
                result.available,
                result.shortfall,
            )
        self._commit(scen)
        self.journal.append(
            "apply_leg", subaccount=sub.name, leg=leg.to_json(), result=result.to_json()
        )
        return result

    def book_leg(self, sub_id: Any, leg: Any) -> None:
        """Book a leg that has already happened (an imported fill) at its price, with no pre-trade
        check: a replay must show an account that traded itself below margin, not refuse the
        trade. Spot beyond holdings becomes a negative balance (a borrow). O(tiers)."""
        sub = self._sub(sub_id)
        self._leg(leg)
        scen = Scenario(self, sub)
        if leg.kind == SPOT:
            scen.trade_spot(leg.symbol, leg.signed_units, leg.price_units, leg.fee_units)
        else:
            scen.trade_perp(
                leg.symbol,
                leg.signed_units,
                leg.price_units,
                leg.fee_units,
                leg.isolated_margin_units,
            )
        self._commit(scen)
        self.journal.append("book_leg", subaccount=sub.name, leg=leg.to_json())

    def _step(self, scen: Scenario, leg: Leg, index: int | None) -> tuple[Scenario, CheckResult]:
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
        ) -> tuple[Scenario, CheckResult]:
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
            return result("headroom", q, new.totals[IM], new.equity_initial)
        if leg.kind == PERP:
            pos = new.position(leg.symbol)
            if pos is not None and pos.mode == ISOLATED and increasing:
                figs = new.figures(leg.symbol)
                bucket = pos.isolated_margin_units + figs[1] + figs[2]
                if bucket < figs[3]:
                    return result("isolated_margin", q, figs[3], bucket)
            if increasing and leg.symbol in new.sub.limits.max_notional_units:
                cap = new.sub.limits.max_notional_units[leg.symbol]
                n16 = new.figures(leg.symbol)[0] if pos is not None else 0
                if n16 > cap * SCALE:
                    return result("max_notional", leg.symbol, ceil_div(n16, SCALE), cap)
        gross_cap = new.sub.limits.max_gross_leverage_ppm
        if increasing and gross_cap is not None:
            allowed = floor_div(max(new.equity_initial, 0) * gross_cap, WEIGHT_SCALE)
            if new.totals[GROSS] > allowed:
                return result("max_gross_leverage", q, new.totals[GROSS], allowed)
        return result()

    def _trade_perp_voluntary(self, new: Scenario, leg: Leg) -> int | None:
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
        figs = new.figures(leg.symbol)
        return min(pos.isolated_margin_units, pos.isolated_margin_units + figs[1] + figs[2])

    def _risk_increasing(self, scen: Scenario, leg: Leg) -> bool:
        if leg.kind == SPOT:
            held = scen.balance(leg.symbol)
        else:
            pos = scen.position(leg.symbol)
            held = 0 if pos is None else pos.size_units
        new = held + leg.signed_units
        # reducing = moving toward zero without crossing it
        return not (held != 0 and abs(new) < abs(held) and (new == 0 or (new > 0) == (held > 0)))

    # --- views ---------------------------------------------------------------------------------
    def headroom(self, sub_id: Any) -> Decimal:
        """Initial equity minus total cross IM (quote)."""
        return to_decimal(Scenario(self, self._sub(sub_id)).headroom)

    def summary(self, sub_id: Any) -> dict[str, Decimal]:
        """Equity (initial and maintenance), IM, MM, headroom, maintenance excess, gross (quote)."""
        scen = Scenario(self, self._sub(sub_id))
        t = scen.totals
        return {
            "equity": to_decimal(scen.equity_initial),
            "maintenance_equity": to_decimal(scen.equity_maintenance),
            "initial_margin": to_decimal(t[IM]),
            "maintenance_margin": to_decimal(t[MM]),
            "headroom": to_decimal(scen.headroom),
            "maintenance_excess": to_decimal(scen.maintenance_excess),
            "gross_notional": to_decimal(t[GROSS]),
        }

    def liquidatable(self) -> list[str]:
        """Subaccounts whose maintenance equity is below total MM, or with an isolated position
        below its own MM, sorted by id. O(subaccounts) on the cached totals."""
        out = []
        for sub_id, sub in self.subs.items():
            t = sub.totals
            if t[C_MAINT] + t[UPNL] + t[FUND] < t[MM] or self._isolated_breach(sub):
                out.append(sub_id)
        return sorted(out)

    def _isolated_breach(self, sub: Subaccount) -> bool:
        for symbol, pos in sub.positions.items():
            if pos.mode == ISOLATED:
                figs = sub.pos_vals[symbol]
                if pos.isolated_margin_units + figs[1] + figs[2] < figs[4]:
                    return True
        return False

    def balance(self, sub_id: Any, asset: Any) -> Decimal:
        sub = self._sub(sub_id)
        return to_decimal(sub.balances.get(self._asset(asset), 0))

    def position(self, sub_id: Any, symbol: Any) -> Position | None:
        sub = self._sub(sub_id)
        pos = sub.positions.get(self._market(symbol).symbol)
        return None if pos is None else pos.copy()

    def holdings(self, holder: str, asset: str) -> Decimal:
        """Balance of the market, insurance fund or fee pool in ``asset``."""
        return to_decimal(self.other.get((holder, asset), 0))

    # --- orders ----------------------------------------------------------------------------------
    def add_open_order(self, sub_id: Any, order_id: Any) -> None:
        """Track an open order of the subaccount (cancelled first when it is liquidated)."""
        sub = self._sub(sub_id)
        order_id = parse_name("order_id", order_id)
        if order_id in sub.open_orders:
            raise MarginInputError("order_id", order_id, "an id not already open")
        sub.open_orders.append(order_id)

    # --- internals ---------------------------------------------------------------------------------
    def _sub(self, sub_id: Any) -> Subaccount:
        if not isinstance(sub_id, str) or sub_id not in self.subs:
            raise MarginInputError("subaccount", sub_id, f"one of {sorted(self.subs)}")
        return self.subs[sub_id]

    def _asset(self, asset: Any) -> str:
        if not isinstance(asset, str) or asset not in self.assets:
            raise MarginInputError("asset", asset, f"one of {sorted(self.assets)}")
        return asset

    def _market(self, symbol: Any) -> PerpMarket:
        if not isinstance(symbol, str) or symbol not in self.markets:
            raise MarginInputError("symbol", symbol, f"one of {sorted(self.markets)}")
        return self.markets[symbol]

    def _leg(self, leg: Any) -> None:
        if not isinstance(leg, Leg):
            raise MarginInputError("leg", leg, "a Leg")
        if leg.kind == SPOT:
            if leg.symbol == self.quote_asset:
                raise MarginInputError("symbol", leg.symbol, "a non-quote asset for a spot leg")
            self._asset(leg.symbol)
        else:
            self._market(leg.symbol)
        if leg.symbol not in self.marks:
            raise OraclePriceError(leg.symbol, MISSING)

    def _require_price(self, name: str) -> None:
        if name not in self.marks:
            raise OraclePriceError(name, MISSING)

    def _require_headroom(self, scen: Scenario) -> None:
        if scen.headroom < 0:
            raise MarginRejected(
                "headroom",
                scen.sub.name,
                self.quote_asset,
                to_decimal(scen.totals[IM]),
                to_decimal(scen.equity_initial),
                to_decimal(-scen.headroom),
            )

    def _leverage(self, sub: Subaccount, market: PerpMarket) -> int:
        cap = market.tiers.max_leverage
        return min(
            sub.leverage.get(market.symbol, cap),
            sub.limits.max_leverage.get(market.symbol, cap),
            cap,
        )

    def _asset_figures(self, asset: str, units: int) -> tuple[int, int, int]:
        if units == 0:
            return (0, 0, 0)
        price = self.marks[asset].price_units
        cfg = self.assets[asset]
        gross = 0 if asset == self.quote_asset else ceil_div(abs(units) * price, SCALE)
        return (cfg.value_units(units, price, False), cfg.value_units(units, price, True), gross)

    def _position_figures(self, sub: Subaccount, pos: Position) -> tuple:
        market = self.markets[pos.symbol]
        mark = self.marks.get(pos.symbol)
        if mark is None:
            raise OraclePriceError(pos.symbol, MISSING)
        return _pos_figures(
            pos,
            mark.price_units,
            self.funding_index[pos.symbol],
            market.tiers,
            self._leverage(sub, market),
        )

    def _refresh(self, sub: Subaccount, name: str) -> None:
        scen = Scenario(self, sub)
        if name in sub.balances:
            scen.set_balance(name, sub.balances[name])
        if name in sub.positions:
            scen.set_position(name, sub.positions[name])
        self._commit(scen)

    def _commit(self, scen: Scenario) -> None:
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
                sub.positions[symbol] = pos
                sub.pos_vals[symbol] = scen.pos_vals[symbol]
                self.holders.setdefault(symbol, set()).add(sub.name)
        sub.totals[:] = scen.totals
        for key, delta in scen.flows.items():
            self.other[key] = self.other.get(key, 0) + delta
        for symbol, delta in scen.market_sizes.items():
            self.market_sizes[symbol] = self.market_sizes.get(symbol, 0) + delta

    def recompute_totals(self, sub: Subaccount) -> list[int]:
        """Totals from scratch (the naive baseline, and what :meth:`_check` compares against). O(n)."""
        totals = [0] * 7
        for asset, units in sub.balances.items():
            figs = self._asset_figures(asset, units)
            totals[C_INIT] += figs[0]
            totals[C_MAINT] += figs[1]
            totals[GROSS] += figs[2]
        for pos in sub.positions.values():
            figs = self._position_figures(sub, pos)
            totals[GROSS] += figs[5]
            if pos.mode == CROSS:
                totals[UPNL] += figs[1]
                totals[FUND] += figs[2]
                totals[IM] += figs[3]
                totals[MM] += figs[4]
        return totals

    def snapshot(self) -> tuple:
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
        )

    def _check(self) -> None:
        """Assert every invariant: caches equal a full recompute, the double entry balances per
        asset, perp sizes net to zero against the market, and the reverse index is complete."""
        totals_by_asset: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for sub in self.subs.values():
            assert sub.totals == self.recompute_totals(sub), (
                sub.name,
                sub.totals,
                self.recompute_totals(sub),
            )
            for asset, units in sub.balances.items():
                assert units != 0
                assert sub.asset_vals[asset] == self._asset_figures(asset, units)
                assert sub.name in self.holders[asset]
                totals_by_asset[asset] = totals_by_asset.get(asset, 0) + units
            for symbol, pos in sub.positions.items():
                assert pos.size_units != 0 and pos.symbol == symbol
                assert pos.mode in (CROSS, ISOLATED)
                assert pos.mode == ISOLATED or pos.isolated_margin_units == 0
                assert sub.pos_vals[symbol] == self._position_figures(sub, pos)
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


def _accrue_funding(ledger: MarginLedger, symbol: Any) -> Decimal:
    from router.margin.funding import funding_rate_units

    market = ledger._market(symbol)
    for name in (market.symbol, market.oracle_asset):
        mark = ledger.marks.get(name)
        if mark is None or not mark.valid:
            raise OraclePriceError(name, MISSING if mark is None else mark.state)
    rate = funding_rate_units(
        ledger.marks[market.symbol].price_units,
        ledger.marks[market.oracle_asset].price_units,
        market.funding_cap_units,
    )
    delta = ledger.marks[market.oracle_asset].price_units * rate
    ledger.funding_index[market.symbol] += delta
    for sub_id in sorted(ledger.holders.get(market.symbol, ())):
        ledger._refresh(ledger.subs[sub_id], market.symbol)
    ledger.journal.append(
        "funding", symbol=market.symbol, rate_units=rate, index=ledger.funding_index[market.symbol]
    )
    from router.margin.quantities import RATE_SCALE

    return to_decimal(rate, RATE_SCALE)


MarginLedger.accrue_funding = _accrue_funding  # type: ignore[attr-defined]
MarginLedger.accrue_funding.__doc__ = (
    "Accrue one funding interval on ``symbol`` from its mark and its oracle asset's mark (both "
    "valid, else OraclePriceError); returns the rate. O(holders of the symbol)."
)


def _liquidate(self: MarginLedger, sub_id: Any):
    """Liquidate ``sub_id`` if below maintenance (see :mod:`router.margin.liquidation`)."""
    from router.margin.liquidation import liquidate

    return liquidate(self, sub_id)


def _liquidation_price(self: MarginLedger, sub_id: Any, symbol: Any):
    """Liquidation price of the position on the cent grid, rounded against the account, or None."""
    from router.margin.liquidation import liquidation_price

    return liquidation_price(self, sub_id, symbol)


def _port(self: MarginLedger, src_id: Any, dst_id: Any, symbol: Any, size: Any) -> None:
    """Port ``size`` of a cross position at mark; both sides keep headroom >= 0."""
    from router.margin.porting import port_position

    port_position(self, src_id, dst_id, symbol, size)


def _transfer(self: MarginLedger, src_id: Any, dst_id: Any, asset: Any, amount: Any) -> None:
    """Transfer collateral; both sides keep headroom >= 0."""
    from router.margin.porting import transfer_collateral

    transfer_collateral(self, src_id, dst_id, asset, amount)


MarginLedger.liquidate = _liquidate  # type: ignore[attr-defined]
MarginLedger.liquidation_price = _liquidation_price  # type: ignore[attr-defined]
MarginLedger.port_position = _port  # type: ignore[attr-defined]
MarginLedger.transfer_collateral = _transfer  # type: ignore[attr-defined]
