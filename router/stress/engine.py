"""The stress engine: the margin core's deterministic liquidation engine run for real on simulated venues.

For each step of a scenario the engine sets the marks (external move x venue impact, through the
oracle fault if any), charges the step's funding, and then, while the subaccount is below
maintenance, runs the margin core's liquidation loop (:class:`router.margin.liquidation.Liquidation`,
the same loop ``crossroute execute`` and paper use). Each step the core decides is sent (times
``crowd``: the accounts like this one) to the venues of the asset, which consumes their depth and
moves their prices, and the account's share is booked at the price the venues gave (in the mark's
terms; fee to the insurance fund); the move is multiplied into the marks and the check runs again,
so a cascade happens when the impact pushes the account (or what is left of it) back below
maintenance. The difference between the venue fill and the mark is the execution cost of the
liquidation, reported per step as ``fund_slippage`` (borne by the account, and by the fund as bad
debt beyond the account's equity).

Two ways to consume depth, with the same definitions:

- ``run`` (named scenarios): fresh venues and adapters are built by :func:`router.app.build_market`
  for every scenario (depth scaled per the scenario), orders are routed by
  :func:`router.plan.plan_route` and executed through the adapters: exact venue math.
- ``monte_carlo``: the aggregated depth curves (:mod:`router.model.depth`) of the fresh venues give
  the marginal price after ``q`` base sold (bought) in float64, interpolated on a table built
  once: thousands of paths per second. ``run`` on the same path is the reference (tests compare).

Impact factor of an asset = the marginal price the liquidation sales left on the venues they used
/ the best bid at the start (asks for purchases; prices only move away while liquidations flow one
way), across the asset's venues (its spot venues: the
backstop takes the position at mark and hedges where the depth is; perp books only for an asset
without spot venues). Factors are rounded to 1e-9 (ppb) at the edge;
marks are integers on the ledger's 1e-18 grid; ledger and losses stay exact integers.

Values (``nav``): collateral at mark, weight 1, plus every position's unrealised PnL and unsettled
funding plus isolated margin (quote). Loss = nav at the start - nav after the path, at the
external prices (an oracle fault recovers at the end). Positive = money lost.
"""

from __future__ import annotations

import asyncio
import copy
import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from router.app import build_market
from router.config import (
    AmmConfig,
    ClmmConfig,
    MarketConfig,
    OrderBookConfig,
    PositionConfig,
    read_toml,
)
from router.margin.account import ISOLATED, rate_units
from router.margin.errors import MarginInputError
from router.margin.journal import Journal
from router.margin.ledger import MarginLedger
from router.margin.liquidation import (
    SPOT_STEP,
    Liquidation,
    LiquidationFill,
    LiquidationOrder,
    LiquidationStep,
)
from router.margin.oracle import VALID, MarkPrice, aggregate
from router.margin.quantities import SCALE, ceil_div, floor_div, to_decimal, to_text
from router.margin.report import build_account, load_account
from router.model.errors import ConfigError, CrossrouteError
from router.model.orders import LegOrder
from router.stress.scenarios import MonteCarloModel, Scenario, StressInputError

__all__ = [
    "PPB",
    "LiquidationEvent",
    "MonteCarloResult",
    "Portfolio",
    "ScenarioResult",
    "StepState",
    "StressEngine",
    "TailStats",
    "load_portfolio",
    "portfolio_from_document",
    "tail_stats",
]

PPB = 10**9
MAX_ROUNDS = 25  # cascade rounds per step; each round is one full ledger liquidation
_TABLE_POINTS = 512  # impact table resolution for Monte Carlo (log-spaced prices)
_AVERAGE_POINTS = 33  # grid of the curve's average fill price over one liquidation order
_STALE, _NO_QUORUM = "stale", "no_quorum"


# --------------------------------------------------------------------------------------------
# The portfolio: cross ledger and the same positions isolated.
# --------------------------------------------------------------------------------------------


@dataclass
class Portfolio:
    """An account file read twice: as written (``cross``) and with every position isolated,
    posting its IM from USDC (``isolated``); ``isolated_extra`` is the quote the isolated form
    needs beyond the file's USDC (added to its collateral so both start with the same positions)."""

    path: str
    cross: MarginLedger
    isolated: MarginLedger
    sub_id: str
    isolated_extra_units: int

    def ledger(self, mode: str) -> MarginLedger:
        if mode not in ("cross", "isolated"):
            raise StressInputError("mode", mode, "cross | isolated")
        return self.cross if mode == "cross" else self.isolated

    def assets(self) -> set[str]:
        """Assets a scenario may move: non-quote collateral and every market's oracle asset."""
        ledger = self.cross
        names = {a for a in ledger.assets if a != ledger.quote_asset}
        return names | {m.oracle_asset for m in ledger.markets.values()}


def load_portfolio(path: str | Path) -> Portfolio:
    """Read a `crossroute margin report` account file (router/margin/report.py) as a Portfolio.

    ConfigError for a bad file. O(positions x tiers)."""
    source = str(path)
    cross, sub_id = load_account(source)
    return _portfolio(source, read_toml(source), cross, sub_id)


def portfolio_from_document(source: str, doc: dict[str, Any]) -> Portfolio:
    """A Portfolio from an account document held in memory (the `margin report` file's form:
    collateral, collateral_weights, marks, positions), e.g. one a replay built; ``source`` names
    it in errors. ConfigError for a bad document. O(positions x tiers)."""
    try:
        cross, sub_id = build_account(source, doc)
    except MarginInputError as exc:
        raise ConfigError(source, exc.field, exc.value, exc.allowed) from None
    return _portfolio(source, doc, cross, sub_id)


def _portfolio(source: str, doc: dict[str, Any], cross: MarginLedger, sub_id: str) -> Portfolio:
    """The Portfolio of ``doc`` given its cross ledger: the isolated twin built from a copy."""
    sub = cross.subs[sub_id]
    iso_doc = copy.deepcopy(doc)
    posted = 0
    for raw in iso_doc.get("positions", []):
        if raw.get("mode", "cross") == "isolated":
            continue
        im = sub.pos_vals[raw["symbol"]][3]
        raw["mode"] = "isolated"
        raw["isolated_margin"] = to_text(im)
        posted += im
    collateral = iso_doc.setdefault("collateral", {})
    quote = cross.quote_asset
    have = sub.balances.get(quote, 0)
    extra = max(0, posted - have)
    if extra:
        collateral[quote] = to_text(have + extra)
    try:
        isolated, iso_sub = build_account(source, iso_doc)
    except CrossrouteError as exc:
        raise ConfigError(
            source, "positions", str(exc), "positions that can be held isolated"
        ) from None
    assert iso_sub == sub_id
    for ledger in (cross, isolated):
        ledger.journal = Journal()
    return Portfolio(source, cross, isolated, sub_id, extra)


class _NullJournal(Journal):
    """A journal that keeps nothing: Monte Carlo paths are statistics, not audit trails."""

    def append(self, event: str, **fields: Any) -> str:
        return ""


def nav_units(ledger: MarginLedger, sub_id: str) -> int:
    """Unweighted value of a subaccount at its marks (quote ledger units), rounded down. O(holdings)."""
    sub = ledger.subs[sub_id]
    total = 0
    for asset, units in sub.balances.items():
        total += floor_div(units * ledger.marks[asset].price_units, SCALE)
    for symbol, pos in sub.positions.items():
        figs = sub.pos_vals[symbol]
        total += figs[1] + figs[2] + (pos.isolated_margin_units if pos.mode == ISOLATED else 0)
    return total


# --------------------------------------------------------------------------------------------
# Results.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """One liquidation step: closed ``size`` (signed, base) of ``symbol`` decided at ``mark``,
    filled at the venues' price with ``fee``;
    what the venues did with the same order (x crowd): ``venue_qty``, ``venue_avg_price``,
    ``unfilled_qty`` (depth exhausted); ``price`` the account's fill, booked in the ledger (the
    venues' average in the mark's terms); ``fund_slippage`` = the cost of closing there instead of
    at mark (quote, > 0 = cost)."""

    step: int
    t_min: Decimal
    cascade_round: int
    symbol: str
    size: Decimal
    mark: Decimal
    fee: Decimal
    venue_qty: Decimal
    venue_avg_price: Decimal | None
    unfilled_qty: Decimal
    fund_slippage: Decimal
    price: Decimal | None = None  # the booked fill price, in the mark's terms

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "t_min": self.t_min,
            "round": self.cascade_round,
            "symbol": self.symbol,
            "size": self.size,
            "mark": self.mark,
            "fee": self.fee,
            "venue_qty": self.venue_qty,
            "venue_avg_price": self.venue_avg_price,
            "unfilled_qty": self.unfilled_qty,
            "fund_slippage": self.fund_slippage,
            "price": self.price,
        }


@dataclass(frozen=True, slots=True)
class StepState:
    """The account after one step (quote): value, margin equity, headroom, maintenance excess."""

    step: int
    t_min: Decimal
    nav: Decimal
    equity: Decimal
    headroom: Decimal
    maintenance_excess: Decimal
    marks: tuple[tuple[str, Decimal], ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "t_min": self.t_min,
            "nav": self.nav,
            "equity": self.equity,
            "headroom": self.headroom,
            "maintenance_excess": self.maintenance_excess,
            "marks": dict(self.marks),
        }


@dataclass
class ScenarioResult:
    """One scenario in one margin mode: the equity path, liquidations, bad debt, worst headroom, loss."""

    name: str
    mode: str
    nav_start: Decimal
    nav_end: Decimal
    path: list[StepState] = field(default_factory=list)
    liquidations: list[LiquidationEvent] = field(default_factory=list)
    bad_debt: Decimal = Decimal(0)
    insurance_fees: Decimal = Decimal(0)
    cascade_rounds: int = 0
    ledger: Any = field(
        default=None, repr=False, compare=False
    )  # the path's own ledger, for inspection

    @property
    def loss(self) -> Decimal:
        return self.nav_start - self.nav_end

    @property
    def worst_headroom(self) -> Decimal | None:
        return min((s.headroom for s in self.path), default=None)

    @property
    def worst_maintenance_excess(self) -> Decimal | None:
        return min((s.maintenance_excess for s in self.path), default=None)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "nav_start": self.nav_start,
            "nav_end": self.nav_end,
            "loss": self.loss,
            "worst_headroom": self.worst_headroom,
            "worst_maintenance_excess": self.worst_maintenance_excess,
            "bad_debt": self.bad_debt,
            "insurance_fees": self.insurance_fees,
            "cascade_rounds": self.cascade_rounds,
            "liquidations": [e.to_json_dict() for e in self.liquidations],
            "path": [s.to_json_dict() for s in self.path],
        }


@dataclass(frozen=True)
class TailStats:
    """The left tail of a loss sample (quote): mean, VaR and ES at ``level`` (e.g. 0.99),
    worst, and the share of paths with at least one liquidation."""

    paths: int
    level: Decimal
    mean_loss: Decimal
    var: Decimal
    es: Decimal
    worst: Decimal
    liquidated_share: Decimal

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "level": self.level,
            "mean_loss": self.mean_loss,
            "var": self.var,
            "es": self.es,
            "worst": self.worst,
            "liquidated_share": self.liquidated_share,
        }


def tail_stats(
    losses_units: list[int], liquidated: list[bool], level: Decimal = Decimal("0.99")
) -> TailStats:
    """VaR = the loss at rank ceil(level x n) of the sorted sample (the empirical quantile, no
    interpolation); ES = the mean of the ceil((1 - level) x n) largest losses, rounded up to the
    ledger's 1e-18 (against the account). Exact on integer units. O(n log n)."""
    n = len(losses_units)
    if n == 0:
        raise StressInputError("losses", losses_units, "at least one path")
    if not isinstance(level, Decimal) or not Decimal("0.5") <= level < 1:
        raise StressInputError("level", level, "a Decimal in [0.5, 1)")
    ordered = sorted(losses_units)
    rank = int((level * n).to_integral_value(rounding="ROUND_CEILING"))
    var = ordered[max(rank, 1) - 1]
    k = max(1, int(((1 - level) * n).to_integral_value(rounding="ROUND_CEILING")))
    tail = ordered[-k:]
    es = ceil_div(sum(tail), k)
    mean = floor_div(sum(ordered), n)
    share = (Decimal(sum(liquidated)) / n).quantize(Decimal("0.0001"))
    return TailStats(
        n, level, to_decimal(mean), to_decimal(var), to_decimal(es), to_decimal(ordered[-1]), share
    )


@dataclass
class MonteCarloResult:
    """Per mode (cross, isolated): losses per path (quote units), liquidated flags, tail stats."""

    seed: int
    paths: int
    steps: int
    losses: dict[str, list[int]]
    liquidated: dict[str, list[bool]]
    stats: dict[str, TailStats]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "paths": self.paths,
            "steps": self.steps,
            "cross": self.stats["cross"].to_json_dict(),
            "isolated": self.stats["isolated"].to_json_dict(),
            "tail_ratio_cross_to_isolated": (
                self.stats["cross"].es / self.stats["isolated"].es
            ).quantize(Decimal("0.0001"))
            if self.stats["isolated"].es > 0
            else None,
        }


# --------------------------------------------------------------------------------------------
# Depth scaling and venue reads.
# --------------------------------------------------------------------------------------------


def _scaled(value: Decimal, scale: Decimal, quantum: Decimal) -> Decimal:
    """``value`` x ``scale`` rounded down to ``quantum`` (thinner, never thicker)."""
    return (value * scale / quantum).to_integral_value(rounding="ROUND_FLOOR") * quantum


def scale_depth(config: MarketConfig, liquidity: tuple[tuple[str, Decimal], ...]) -> MarketConfig:
    """A copy of ``config`` with each named venue's depth scaled: pool reserves (price kept),
    concentrated liquidity L, book level sizes (rounded down to the lot; empty levels dropped)."""
    if not liquidity:
        return config
    names = {v.name for v in config.venues}
    wanted = dict(liquidity)
    for name in wanted:
        if name not in names:
            raise StressInputError(
                "liquidity", name, f"one of the config's venues {', '.join(sorted(names))}"
            )
    venues = []
    for venue in config.venues:
        s = wanted.get(venue.name)
        if s is None or s == 1:
            venues.append(venue)
            continue
        if isinstance(venue, AmmConfig):
            base_q = Decimal(1).scaleb(-config.asset(venue.base).decimals)
            quote_q = Decimal(1).scaleb(-config.asset(venue.quote).decimals)
            venues.append(
                replace(
                    venue,
                    reserves=(
                        _scaled(venue.reserves[0], s, base_q),
                        _scaled(venue.reserves[1], s, quote_q),
                    ),
                )
            )
        elif isinstance(venue, ClmmConfig):
            venues.append(
                replace(
                    venue,
                    positions=tuple(
                        PositionConfig(
                            p.lower, p.upper, max(1, int(Decimal(p.liquidity) * s)), p.owner
                        )
                        for p in venue.positions
                    ),
                )
            )
        elif isinstance(venue, OrderBookConfig):

            def thin(levels: tuple, s: Any = s, venue: OrderBookConfig = venue) -> tuple:
                kept = tuple((p, _scaled(q, s, venue.lot_size)) for p, q in levels)
                return tuple((p, q) for p, q in kept if q > 0 and p * q >= venue.min_notional)

            venues.append(replace(venue, bids=thin(venue.bids), asks=thin(venue.asks)))
        else:  # pragma: no cover - config kinds are closed
            venues.append(venue)
    return replace(config, venues=tuple(venues))


def _best(adapters: list[Any], side: str) -> float | None:
    """Best all-in marginal price across ``adapters`` for a taker ``side`` (sell: highest bid)."""
    best = None
    for adapter in adapters:
        curve = adapter.depth_curve(side)
        if curve.total_qty <= 0:
            continue
        price = curve.marginal_price(0.0)
        if best is None or (price > best if side == "sell" else price < best):
            best = price
    return best


def _deepest(adapters: list[Any], bid0: float | None, ask0: float | None) -> tuple[float, float]:
    """(deepest bid / best bid, deepest ask / best ask): where a drained side leaves the price."""
    bids = [
        c.marginal_price(c.total_qty)
        for c in (a.depth_curve("sell") for a in adapters)
        if 0 < c.total_qty < math.inf
    ]
    asks = [
        c.marginal_price(c.total_qty)
        for c in (a.depth_curve("buy") for a in adapters)
        if 0 < c.total_qty < math.inf
    ]
    floor = min(bids) / bid0 if bids and bid0 else 1.0
    cap = max(asks) / ask0 if asks and ask0 else 1.0
    return floor, cap


def _ppb(x: float) -> int:
    """A float factor as an integer in 1e-9 units (the one float-to-exact edge of the engine)."""
    return max(1, round(x * PPB))


@dataclass
class _ImpactTable:
    """Aggregated depth of an asset's venues: cumulative base sold (bought) -> marginal price."""

    sell_q: np.ndarray
    sell_p: np.ndarray
    buy_q: np.ndarray
    buy_p: np.ndarray
    bid0: float
    ask0: float

    @classmethod
    def build(cls, adapters: list[Any]) -> _ImpactTable | None:
        bid0, ask0 = _best(adapters, "sell"), _best(adapters, "buy")
        if bid0 is None or ask0 is None:
            return None
        sells = [a.depth_curve("sell") for a in adapters]
        buys = [a.depth_curve("buy") for a in adapters]
        # dense near the touch (0.01% steps over the first 20%), coarse in the far tail
        near = np.linspace(1.0, 0.8, 2001)
        sell_p = bid0 * np.concatenate([near, np.geomspace(0.8, 1e-3, _TABLE_POINTS)[1:]])
        buy_p = ask0 * np.concatenate([2.0 - near, np.geomspace(1.2, 1e3, _TABLE_POINTS)[1:]])
        sell_q = np.array([sum(c.qty_at_price(float(p)) for c in sells) for p in sell_p])
        buy_q = np.array([sum(c.qty_at_price(float(p)) for c in buys) for p in buy_p])
        # Cut each table where the depth is used up: beyond it the price stays at the deepest
        # level reached (np.interp clamps), as for the real venues.
        sell_n = int(np.argmax(sell_q >= sell_q[-1])) + 1
        buy_n = int(np.argmax(buy_q >= buy_q[-1])) + 1
        return cls(sell_q[:sell_n], sell_p[:sell_n], buy_q[:buy_n], buy_p[:buy_n], bid0, ask0)

    def factor(self, net_sold: float) -> float:
        """Impact factor after ``net_sold`` base (negative = bought) went through the venues."""
        if net_sold >= 0:
            return float(np.interp(net_sold, self.sell_q, self.sell_p)) / self.bid0
        return float(np.interp(-net_sold, self.buy_q, self.buy_p)) / self.ask0


# --------------------------------------------------------------------------------------------
# The engine.
# --------------------------------------------------------------------------------------------


class _Path:
    """One path through one ledger: marks, funding, the cascade. ``executor`` consumes depth."""

    def __init__(
        self,
        engine: StressEngine,
        ledger: MarginLedger,
        mode: str,
        name: str,
        oracle: Any,
        crowd: int,
        funding: tuple[tuple[str, Decimal], ...],
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.sub_id = engine.portfolio.sub_id
        self.mode = mode
        self.oracle = oracle
        self.crowd = crowd
        self.funding = [(m, rate_units(r, f"funding.{m}")) for m, r in funding]
        self.impact_ppb = {a: PPB for a in engine.asset_names}
        self.net_sold = {a: Decimal(0) for a in engine.asset_names}
        self.external: dict[str, int] = dict(engine.ref_units)
        self.result = ScenarioResult(name, mode, Decimal(0), Decimal(0))
        self.step_index = 0
        self.t_min = Decimal(0)
        self.record_path = True  # Monte Carlo keeps only the loss and the liquidations

    # -- prices ------------------------------------------------------------------------------

    def set_external(self, move_ppb: dict[str, int]) -> None:
        """External prices of every mark name: start mark x (1 + move), the move of the name
        itself when the scenario shocks that instrument (``ETH-PERP`` apart from ``ETH``: basis
        risk), else of its asset."""
        eng = self.engine
        for name, asset in eng.asset_of.items():
            move = move_ppb.get(name, move_ppb.get(asset, PPB))
            self.external[name] = max(1, _mul_ppb(eng.ref_units[name], move))

    def apply_marks(self) -> None:
        """Marks = external x impact, through the oracle fault when active. O(names)."""
        eng, ledger = self.engine, self.ledger
        fault = (
            self.oracle if self.oracle is not None and self.oracle.active(self.step_index) else None
        )
        for name, asset in eng.asset_of.items():
            units = max(1, _mul_ppb(self.external[name], self.impact_ppb[asset]))
            state = VALID
            if fault is not None and fault.asset in (asset, name):
                if fault.mode == "stale":
                    units, state = ledger.marks[name].price_units, _STALE
                else:
                    bad = max(1, _mul_ppb(units, _ppb_decimal(1 + fault.error)))
                    readings = {
                        f"src{i}": (bad if i < fault.bad_sources else units, 0)
                        for i in range(fault.sources)
                    }
                    mark = aggregate(
                        name, readings, 0, 1, fault.max_deviation_bps, fault.sources // 2 + 1
                    )
                    units, state = mark.price_units, mark.state
            current = ledger.marks.get(name)
            if current is None or current.price_units != units or current.state != state:
                ledger.publish_mark(
                    MarkPrice(name, units, state)
                )  # units validated above: >= 1, on the grid

    def recover(self) -> None:
        """End of path: the oracle is right again (marks = external x impact, valid)."""
        self.oracle = None
        self.apply_marks()

    # -- funding -----------------------------------------------------------------------------

    def charge_funding(self) -> None:
        """One step of each scenario funding rate: index += mark x rate, holders refreshed (the
        ledger's own accrual, with the rate given rather than derived from the premium: a spike
        beyond the market's cap is the point of the stress)."""
        ledger = self.ledger
        for market, rate in self.funding:
            ledger.move_funding_index(market, ledger.mark_units(market) * rate, rate)

    # -- the cascade -------------------------------------------------------------------------

    async def cascade(self) -> None:
        """Rounds of the margin core's liquidation loop, each step filled on the venues (this
        path's consumer) at the price they give, until the account is no longer liquidatable,
        a round takes no step, or MAX_ROUNDS. The marks take the venues' impact after each step,
        so the next one is decided at the prices the last one left."""
        ledger = self.ledger
        for round_no in range(MAX_ROUNDS):
            if self.sub_id not in ledger.liquidatable():
                return
            run = Liquidation(ledger, self.sub_id)
            while (order := run.next_order()) is not None:
                fill, event = await self._fill(order, round_no)
                step = run.book(order, fill)
                if step is not None and event is not None:
                    self.result.insurance_fees += to_decimal(step.fee_units)
                    self.result.liquidations.append(event(step))
                    self.apply_marks()  # the next step is decided where this one left the venues
            res = run.finish()
            self.result.cascade_rounds += 1
            self.result.bad_debt += to_decimal(res.bad_debt_units)
            if not res.steps:
                return
            self.apply_marks()

    async def _fill(self, order: LiquidationOrder, round_no: int) -> tuple[LiquidationFill, Any]:
        """Send ``order`` (x crowd: the accounts like this one) to the venues of its asset; the
        account's share fills at the venues' average in the mark's terms: the external price x
        (venue average / venue reference before any liquidation). Returns the fill and a maker
        of the step's LiquidationEvent (None when nothing filled)."""
        ledger, eng = self.ledger, self.engine
        asset = (
            order.symbol if order.kind == SPOT_STEP else ledger.markets[order.symbol].oracle_asset
        )
        asked = to_decimal(order.signed_units)
        qty = abs(asked) * self.crowd
        side = "buy" if order.signed_units > 0 else "sell"
        filled, avg, rel_ppb = await eng.consume(self, asset, side, qty, round_no)
        units = min(abs(order.signed_units), int(filled * SCALE) // self.crowd)
        if units <= 0:
            return LiquidationFill(0, 0, f"the venues of {asset} took nothing"), None
        price_units = max(1, _mul_ppb(self.external[order.symbol], rel_ppb))
        note = "" if filled >= qty else f"the venues of {asset} took {filled} of {qty}"
        signed = units if side == "buy" else -units

        def event(step: LiquidationStep) -> LiquidationEvent:
            mark = to_decimal(order.mark_units)
            exec_price = to_decimal(step.price_units)
            closed = to_decimal(abs(step.closed_units))
            slip = (mark - exec_price) * closed if side == "sell" else (exec_price - mark) * closed
            return LiquidationEvent(
                self.step_index,
                self.t_min,
                round_no,
                order.symbol,
                to_decimal(step.closed_units),
                mark,
                to_decimal(step.fee_units),
                filled,
                avg,
                qty - filled,
                slip.quantize(Decimal(1) / SCALE),
                exec_price,
            )

        return LiquidationFill(signed, price_units, note), event

    def snapshot(self) -> StepState:
        ledger = self.ledger
        s = ledger.summary(self.sub_id)
        marks = tuple(
            sorted((n, to_decimal(ledger.marks[n].price_units)) for n in self.engine.asset_of)
        )
        return StepState(
            self.step_index,
            self.t_min,
            to_decimal(nav_units(ledger, self.sub_id)),
            s["equity"],
            s["headroom"],
            s["maintenance_excess"],
            marks,
        )


def _mul_ppb(units: int, ppb: int) -> int:
    """units x ppb / 1e9, rounded half to even (exact integers)."""
    q, r = divmod(units * ppb, PPB)
    return q + (1 if 2 * r > PPB or (2 * r == PPB and q % 2) else 0)


def _ppb_decimal(x: Decimal) -> int:
    return max(1, int((x * PPB).to_integral_value(rounding=ROUND_HALF_EVEN)))


class StressEngine:
    """Stress a portfolio on a market: named scenarios on real venues, Monte Carlo on depth curves.

    ``market`` is a validated MarketConfig (router.config); venues are rebuilt from it for every
    scenario, so runs never share state. Deterministic: same inputs, same numbers.
    """

    def __init__(self, portfolio: Portfolio, market: MarketConfig) -> None:
        if not isinstance(portfolio, Portfolio):
            raise StressInputError("portfolio", portfolio, "a Portfolio (load_portfolio)")
        if not isinstance(market, MarketConfig):
            raise StressInputError("market", market, "a MarketConfig (router.config.load_config)")
        self.portfolio = portfolio
        self.market_config = market
        ledger = portfolio.cross
        self.asset_of: dict[str, str] = {}
        for name in sorted(ledger.marks):
            if name == ledger.quote_asset:
                continue
            self.asset_of[name] = (
                name if name in ledger.assets else ledger.markets[name].oracle_asset
            )
        self.asset_names = sorted(set(self.asset_of.values()) | portfolio.assets())
        # A move may name any asset the portfolio or the market knows (one it does not hold is
        # a no-op); anything else is a typo and refused.
        self.known_assets = set(self.asset_names) | {a.name for a in market.assets} - {
            ledger.quote_asset
        }
        self.ref_units = {n: ledger.marks[n].price_units for n in self.asset_of}
        self._tables: dict[str, _ImpactTable | None] | None = None
        self._adapters: dict[str, list[Any]] = {}

    # -- validation --------------------------------------------------------------------------

    def validate(self, scenario: Scenario) -> None:
        """Refuse unknown assets, markets and venues before anything runs (nothing changes)."""
        if not isinstance(scenario, Scenario) or not scenario.steps:
            raise StressInputError("scenario", scenario, "a Scenario with at least one step")
        known = self.known_assets | set(self.portfolio.cross.markets)
        for asset in sorted(scenario.assets()):
            if asset not in known:
                raise StressInputError(
                    f"{scenario.name}: asset",
                    asset,
                    f"one of the known assets or perp markets {', '.join(sorted(known))}",
                )
        for market, _ in scenario.funding:
            if market not in self.portfolio.cross.markets:
                raise StressInputError(
                    f"{scenario.name}: funding market",
                    market,
                    f"one of {', '.join(sorted(self.portfolio.cross.markets))}",
                )
        names = {v.name for v in self.market_config.venues}
        for venue, _ in scenario.liquidity:
            if venue not in names:
                raise StressInputError(
                    f"{scenario.name}: liquidity venue", venue, f"one of {', '.join(sorted(names))}"
                )

    def _venues_of(self, market: Any, asset: str) -> list[Any]:
        quote = self.portfolio.cross.quote_asset
        adapters = list(market.adapters.values())
        # The backstop takes the position at mark and hedges on the spot venues, where the depth
        # is (pools and books); a perp book alone is the fallback for an asset without spot venues.
        spot = [a for a in adapters if a.symbol == f"{asset}/{quote}"]
        return spot or [a for a in adapters if a.symbol.startswith(f"{asset}/{quote}:")]

    # -- named scenarios on real venues ------------------------------------------------------

    def run(self, scenario: Scenario, mode: str = "cross") -> ScenarioResult:
        """Run one scenario for real (fresh venues, exact fills). O(steps x cascade x routing)."""
        self.validate(scenario)
        template = self.portfolio.ledger(mode)
        market = build_market(scale_depth(self.market_config, scenario.liquidity))
        return asyncio.run(self._run_real(scenario, template.clone(), mode, market))

    async def _run_real(
        self, scenario: Scenario, ledger: MarginLedger, mode: str, market: Any
    ) -> ScenarioResult:
        path = _Path(
            self, ledger, mode, scenario.name, scenario.oracle, scenario.crowd, scenario.funding
        )
        path.consumer = _RealConsumer(self, market, scenario.name)  # type: ignore[attr-defined]
        return await self._walk(
            path, [(s.t_min, {a: _ppb_decimal(1 + m) for a, m in s.moves}) for s in scenario.steps]
        )

    async def _walk(
        self, path: _Path, steps: list[tuple[Decimal, dict[str, int]]]
    ) -> ScenarioResult:
        path.result.nav_start = to_decimal(nav_units(path.ledger, path.sub_id))
        for index, (t_min, moves) in enumerate(steps):
            path.step_index, path.t_min = index, t_min
            path.set_external(moves)
            path.apply_marks()
            path.charge_funding()
            await path.cascade()
            if path.record_path:
                path.result.path.append(path.snapshot())
        path.recover()
        await path.cascade()  # a recovering oracle can itself reveal a breach
        path.result.nav_end = to_decimal(nav_units(path.ledger, path.sub_id))
        path.result.ledger = path.ledger
        return path.result

    async def consume(
        self, path: _Path, asset: str, side: str, qty: Decimal, round_no: int
    ) -> tuple[Decimal, Decimal | None, int]:
        """Send a liquidation order to the asset's venues; returns (filled base, venue average
        price or None, average relative to the venues' start price in ppb) and updates the path's
        impact factor for the asset."""
        return await path.consumer.consume(path, asset, side, qty, round_no)  # type: ignore[attr-defined]

    # -- Monte Carlo on depth curves -----------------------------------------------------------

    def tables(self) -> dict[str, _ImpactTable | None]:
        """Impact tables per asset from fresh venues (built once)."""
        if self._tables is None:
            market = build_market(self.market_config)
            self._tables = {
                a: _ImpactTable.build(self._venues_of(market, a)) for a in self.asset_names
            }
        return self._tables

    def monte_carlo(
        self,
        model: MonteCarloModel,
        seed: int,
        paths: int | None = None,
        level: Decimal = Decimal("0.99"),
    ) -> MonteCarloResult:
        """Run seeded paths in both modes; VaR/ES at ``level``. O(paths x steps x (names + cascade))."""
        if not isinstance(model, MonteCarloModel):
            raise StressInputError("model", model, "a MonteCarloModel")
        for asset in model.assets:
            if asset not in self.known_assets:
                raise StressInputError(
                    "monte_carlo.vol",
                    asset,
                    f"one of the known assets {', '.join(sorted(self.known_assets))}",
                )
        for market, _ in model.funding:
            if market not in self.portfolio.cross.markets:
                raise StressInputError(
                    "monte_carlo.funding",
                    market,
                    f"one of {', '.join(sorted(self.portfolio.cross.markets))}",
                )
        moves = model.sample(seed, paths)
        factors = np.rint((1.0 + moves) * PPB).astype(np.int64)  # float -> exact ppb, once
        tables = self.tables()
        losses: dict[str, list[int]] = {"cross": [], "isolated": []}
        flags: dict[str, list[bool]] = {"cross": [], "isolated": []}
        for mode in ("cross", "isolated"):
            template = self.portfolio.ledger(mode)
            for p in range(factors.shape[0]):
                steps = [
                    (
                        model.step_min * (k + 1),
                        {a: int(factors[p, k, j]) for j, a in enumerate(model.assets)},
                    )
                    for k in range(model.steps)
                ]
                result = self.run_path(template, mode, steps, tables, f"mc-{p}", model.funding)
                losses[mode].append(int(result.loss * SCALE))
                flags[mode].append(bool(result.liquidations))
        stats = {m: tail_stats(losses[m], flags[m], level) for m in losses}
        return MonteCarloResult(seed, factors.shape[0], model.steps, losses, flags, stats)

    def run_path(
        self,
        template: MarginLedger,
        mode: str,
        steps: list[tuple[Decimal, dict[str, int]]],
        tables: dict[str, _ImpactTable | None],
        name: str,
        funding: tuple[tuple[str, Decimal], ...] = (),
    ) -> ScenarioResult:
        """One path on depth-curve impact (no venue objects touched), charging ``funding``
        (market, rate per step) on every step."""
        path = _Path(self, template.clone(_NullJournal()), mode, name, None, 1, funding)
        path.record_path = False
        path.consumer = _CurveConsumer(tables)  # type: ignore[attr-defined]
        return _run_sync(self._walk(path, steps))

    def run_path_real(
        self, mode: str, steps: list[tuple[Decimal, dict[str, int]]], name: str
    ) -> ScenarioResult:
        """The same path on fresh real venues (the reference and the benchmark's naive baseline)."""
        market = build_market(self.market_config)
        path = _Path(self, self.portfolio.ledger(mode).clone(), mode, name, None, 1, ())
        path.consumer = _RealConsumer(self, market, name)  # type: ignore[attr-defined]
        return asyncio.run(self._walk(path, steps))


def _run_sync(coro: Any) -> Any:
    """Drive a coroutine that never really suspends (the curve consumer awaits nothing) without
    an event loop: ~100x cheaper than asyncio.run per Monte Carlo path."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError(
        "the Monte Carlo path suspended; it must not await real I/O"
    )  # pragma: no cover


class _CurveConsumer:
    def __init__(self, tables: dict[str, _ImpactTable | None]) -> None:
        self.tables = tables

    async def consume(
        self, path: _Path, asset: str, side: str, qty: Decimal, round_no: int
    ) -> tuple[Decimal, Decimal | None, int]:
        table = self.tables.get(asset)
        if table is None:
            return Decimal(0), None, PPB
        start = float(path.net_sold[asset])
        # what the venues can still take on that side (the table ends where their depth does)
        room = Decimal(f"{float(table.sell_q[-1] if side == 'sell' else table.buy_q[-1]):.8f}")
        taken = path.net_sold[asset] if side == "sell" else -path.net_sold[asset]
        filled = max(Decimal(0), min(qty, room - max(taken, Decimal(0))))
        path.net_sold[asset] += filled if side == "sell" else -filled
        end = float(path.net_sold[asset])
        path.impact_ppb[asset] = _ppb(table.factor(end))
        if filled <= 0:
            return filled, None, PPB
        # the average price of the walk along the curve: the mean of the marginal price over the
        # quantity traded (trapezoids on a fixed grid; the book's exact walk is `run`'s)
        grid = np.linspace(start, end, _AVERAGE_POINTS)
        factors = np.array([table.factor(float(x)) for x in grid])
        return filled, None, _ppb(float((factors[:-1] + factors[1:]).mean() / 2))


class _RealConsumer:
    def __init__(self, engine: StressEngine, market: Any, name: str) -> None:
        self.market = market
        self.name = name
        self.venues = {a: engine._venues_of(market, a) for a in engine.asset_names}
        self.ref = {a: (_best(v, "sell"), _best(v, "buy")) for a, v in self.venues.items()}
        self.deepest = {a: _deepest(v, *self.ref[a]) for a, v in self.venues.items()}
        self.count = 0

    async def consume(
        self, path: _Path, asset: str, side: str, qty: Decimal, round_no: int
    ) -> tuple[Decimal, Decimal | None, int]:
        from router.plan import plan_up_to

        adapters = self.venues.get(asset) or []
        if not adapters or qty <= 0:
            return Decimal(0), None, PPB
        # depth exhausted: the largest size the venues still take (to 0.1%), the rest unfilled
        plan = plan_up_to(adapters, adapters[0].symbol, side, qty, quantum=Decimal("1e-8"))
        filled, quote = Decimal(0), Decimal(0)
        by_name = {a.name: a for a in adapters}
        used = []
        if plan is not None:
            for leg in plan.legs:
                if leg.qty <= 0:
                    continue
                self.count += 1
                coid = f"stress-{self.name}-{path.mode}-{path.step_index}-{round_no}-{self.count}"
                fill = await by_name[leg.venue].execute(LegOrder(leg.venue, side, leg.qty, coid))
                filled += fill.filled_qty
                quote += fill.quote_amount
                used.append(by_name[leg.venue])
        path.net_sold[asset] += filled if side == "sell" else -filled
        bid0, ask0 = self.ref[asset]
        floor, cap = self.deepest[asset]
        if used:
            # The split leaves every venue it used at one marginal price: that is where the order
            # pushed the market (a venue it skipped for its fixed cost would be arbitraged there).
            # A drained side has no price: it stays at the deepest level reached.
            if side == "sell":
                now = [
                    c.marginal_price(0.0)
                    for c in (a.depth_curve("sell") for a in used)
                    if c.total_qty > 0
                ]
                factor = min(now) / bid0 if now and bid0 else floor
                factor = min(factor, path.impact_ppb[asset] / PPB)
            else:
                now = [
                    c.marginal_price(0.0)
                    for c in (a.depth_curve("buy") for a in used)
                    if c.total_qty > 0
                ]
                factor = max(now) / ask0 if now and ask0 else cap
                factor = max(factor, path.impact_ppb[asset] / PPB)
            path.impact_ppb[asset] = _ppb(factor)
        avg = (quote / filled).quantize(Decimal("1e-8")) if filled > 0 else None
        ref = bid0 if side == "sell" else ask0
        rel = _ppb(float(avg) / ref) if avg is not None and ref else PPB
        return filled, avg, rel
