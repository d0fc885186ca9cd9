"""USD-M risk from crossroute's margin core: index prices, funding, brackets, liquidation price.

The server keeps its own exact ledger of wallets and positions (accounts.py); this module asks
:mod:`router.margin` the questions the margin core answers:

- **index price** of a perpetual: the median (``router.margin.oracle.aggregate``, outliers beyond
  100 bps of the median dropped) of the mids of the spot markets trading its oracle asset against
  its quote asset; with no such market the perpetual's own mark (premium 0, said in docs/bots.md).
- **funding**: every ``funding_interval_hours`` of the market clock (boundaries at multiples of
  the interval since the epoch, as Binance's 00:00/08:00/16:00 UTC) one interval settles at
  Binance's formula over the interval's *average* premium: the premium of the mark over the index
  is sampled every 5 s of the market clock (``PREMIUM_SAMPLE_MS``, as Binance's premium index) into
  the margin core's running weighted sum (``router.margin.funding.PremiumSamples``, sample k weighs
  k). Prices move only when a request moves a book, so the server samples when a request arrives:
  every sample point since the last request takes the premium the books show now, which is the one
  that held since then. Each position then pays size x mark x rate in its margin asset (a long pays
  a positive rate), rounded against the account to the asset's base unit: a payer pays the
  ceiling, a receiver receives the floor.
- **brackets** from the market's ``[margin.markets]`` rule set (TierSchedule).
- **liquidation price**: per account and margin asset, a MarginLedger with the account's cross
  positions booked at the mark and its margin balance (wallet + unrealised PnL at the mark,
  rounded down to the served 1e-8) deposited; ``MarginLedger.liquidation_price`` then gives the
  price (on the cent grid, rounded against the account) at which equity falls below maintenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal
from typing import Any

from router.margin.checks import LedgerLeg
from router.margin.funding import PREMIUM_SAMPLE_MS, PremiumSamples, premium_units
from router.margin.ledger import MarginLedger
from router.margin.quantities import PLACES, RATE_SCALE, SCALE, to_decimal
from router.margin.tiers import TierSchedule

MARK_QUANTUM = Decimal("1e-8")  # the served marks' grid (the core takes any price to 1e-18)
INDEX_MAX_DEVIATION_BPS = 100
NO_CAP = 9_000_000_000_000  # Binance's notionalCap of the last bracket
_EXACT = Context(prec=120)
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class PerpRules:
    """A perpetual's margin rules, as in its ``[margin.markets]`` entry: the core's market
    ``name``, ``oracle`` asset, ``tiers`` (core tier tables; None with ``max_leverage`` or the
    fractions) and funding settings."""

    name: str
    oracle: str
    tiers: tuple[dict[str, Any], ...] | None = None
    max_leverage: int | None = None
    initial_margin_fraction: Decimal | None = None
    maintenance_margin_fraction: Decimal | None = None
    funding_cap: Decimal = Decimal("0.0005")
    funding_interest: Decimal = Decimal(0)
    funding_band: Decimal = Decimal(0)
    funding_interval_hours: int = 8

    def register(self, ledger: MarginLedger) -> None:
        """Add this market (and its oracle asset) to ``ledger``."""
        if self.oracle not in ledger.assets and self.oracle != ledger.quote_asset:
            ledger.add_asset(self.oracle)
        ledger.add_market(
            self.name,
            self.oracle,
            max_leverage=self.max_leverage,
            tiers=list(self.tiers) if self.tiers is not None else None,
            initial_margin_fraction=self.initial_margin_fraction,
            maintenance_margin_fraction=self.maintenance_margin_fraction,
            funding_cap=self.funding_cap,
            funding_interest=self.funding_interest,
            funding_band=self.funding_band,
            funding_interval_hours=self.funding_interval_hours,
        )

    def schedule(self) -> TierSchedule:
        if self.tiers is not None:
            return TierSchedule(list(self.tiers))
        if self.max_leverage is not None:
            return TierSchedule.single(self.max_leverage)
        return TierSchedule.fractions(
            self.initial_margin_fraction, self.maintenance_margin_fraction
        )


@dataclass(frozen=True, slots=True)
class FundingEvent:
    """One settled interval of a market: its time, rate and the mark it was paid at."""

    venue: str
    time_ms: int
    rate: Decimal
    mark: Decimal


@dataclass(slots=True)
class FundingPayment:
    """One account's funding on one position: ``income`` in the margin asset (> 0 received)."""

    tran_id: int
    account: str
    venue: str
    symbol: str
    asset: str
    income: Decimal
    time_ms: int


@dataclass(slots=True)
class FundingState:
    """A market's funding clock: the next boundary, the market clock up to which the premium has
    been sampled, this interval's samples and the settled intervals."""

    next_ms: int
    sampled_ms: int
    samples: PremiumSamples = field(default_factory=PremiumSamples)
    events: list[FundingEvent] = field(default_factory=list)


def _mark_units(price: Decimal) -> int:
    return int(price.quantize(MARK_QUANTUM).scaleb(PLACES))


def _premium(mark: Decimal, index: Decimal) -> int | None:
    """The premium (1e-12) of ``mark`` over ``index`` on the served 1e-8 grid; None unless both
    are positive there."""
    mark_units, index_units = _mark_units(mark), _mark_units(index)
    if mark_units <= 0 or index_units <= 0:
        return None
    return premium_units(mark_units, index_units)


def rules_for(market: Any) -> PerpRules:
    """The default rules of a perp market served without a ``[margin.markets]`` entry: one
    bracket at the market's leverage (MM = notional / (2 x leverage)), oracle = its base asset."""
    return PerpRules(f"{market.units.base}-PERP", market.units.base, max_leverage=market.leverage)


class PerpRisk:
    """Funding clocks and rule sets of every served perpetual; see the module docstring."""

    def __init__(self, rules: dict[str, PerpRules], start_ms: int) -> None:
        self.rules = rules  # venue name -> rules
        self.schedules = {venue: r.schedule() for venue, r in rules.items()}
        self.state = {
            venue: FundingState(self._next_boundary(r, start_ms), start_ms)
            for venue, r in rules.items()
        }
        self.payments: dict[str, list[FundingPayment]] = {}
        self._tran_ids = 0

    @staticmethod
    def _next_boundary(rules: PerpRules, now_ms: int) -> int:
        interval = rules.funding_interval_hours * HOUR_MS
        return now_ms - now_ms % interval + interval

    def interval_ms(self, venue: str) -> int:
        return self.rules[venue].funding_interval_hours * HOUR_MS

    def next_funding_ms(self, venue: str) -> int:
        return self.state[venue].next_ms

    def interest_rate(self, venue: str) -> Decimal:
        """The interest component per interval (the config's per-8-hours one, scaled)."""
        market = self.core_market(venue)
        units = market.funding_interest_units * market.funding_interval_hours // 8
        return to_decimal(units, RATE_SCALE)

    def sample_due(self, venue: str, now_ms: int) -> bool:
        """Whether a premium sample point (and so possibly a boundary) has passed since the last
        observation: else :meth:`settle` would change nothing. O(1)."""
        return now_ms // PREMIUM_SAMPLE_MS > self.state[venue].sampled_ms // PREMIUM_SAMPLE_MS

    def predicted_rate(self, venue: str, mark: Decimal, index: Decimal) -> Decimal:
        """The rate the next settlement pays if mark and index stay where they are: the core's
        formula on this interval's samples so far plus the premium now at every sample point left
        until the boundary, without settling anything."""
        state = self.state[venue]
        premium = _premium(mark, index)
        samples = state.samples
        if premium is not None:
            left = state.next_ms // PREMIUM_SAMPLE_MS - state.sampled_ms // PREMIUM_SAMPLE_MS
            samples = samples.add(premium, max(left, 0))
        units = samples.rate_units(self.core_market(venue))
        return Decimal(0) if units is None else to_decimal(units, RATE_SCALE)

    def core_market(self, venue: str) -> Any:
        """The margin core's market of ``venue`` (its funding terms, validated by the core)."""
        ledger = MarginLedger("QUOTE")
        self.rules[venue].register(ledger)
        return ledger.market(self.rules[venue].name)

    def settle(self, venue: str, mark: Decimal, index: Decimal, now_ms: int) -> list[FundingEvent]:
        """Sample the premium of ``mark`` over ``index`` at every sample point since the last call
        (the server keeps no price history: these are the prices that held since then; none
        while either is not positive), and settle every interval boundary reached by ``now_ms``
        on its samples' average (rate 0 for an interval with none), paid at ``mark``. O(1) per
        boundary."""
        state = self.state[venue]
        premium = _premium(mark, index)
        paid_at = mark.quantize(MARK_QUANTUM).normalize()
        events = []
        while True:
            end = min(now_ms, state.next_ms)
            points = end // PREMIUM_SAMPLE_MS - state.sampled_ms // PREMIUM_SAMPLE_MS
            if points > 0:
                if premium is not None:
                    state.samples = state.samples.add(premium, points)
                state.sampled_ms = end
            if state.next_ms > now_ms:
                return events
            units = state.samples.rate_units(self.core_market(venue))
            rate = Decimal(0) if units is None else to_decimal(units, RATE_SCALE)
            event = FundingEvent(venue, state.next_ms, rate, paid_at)
            state.events.append(event)
            events.append(event)
            state.samples = PremiumSamples()
            state.next_ms += self.interval_ms(venue)

    def pay(
        self,
        account: str,
        venue: str,
        symbol: str,
        asset: str,
        size: Decimal,
        event: FundingEvent,
        decimals: int,
    ) -> FundingPayment | None:
        """The payment of ``size`` (signed) at ``event``: income = -size x mark x rate in whole
        units of ``asset``, rounded against the account to ``decimals``; None (nothing
        recorded) when that is zero (a zero rate)."""
        exact = _EXACT.multiply(_EXACT.multiply(size, event.mark), event.rate)
        income = (-exact).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_FLOOR)
        if not income:
            return None
        self._tran_ids += 1
        payment = FundingPayment(
            self._tran_ids, account, venue, symbol, asset, income, event.time_ms
        )
        self.payments.setdefault(account, []).append(payment)
        return payment

    # ---- brackets and liquidation -------------------------------------------------------------
    def brackets(self, venue: str) -> list[dict[str, Any]]:
        tiers = self.schedules[venue].tiers
        rows = []
        for k, tier in enumerate(tiers):
            cap = tiers[k + 1].notional_from_units if k + 1 < len(tiers) else NO_CAP * SCALE
            rows.append(
                {
                    "bracket": k + 1,
                    "initialLeverage": tier.max_leverage,
                    "notionalCap": _number(to_decimal(cap)),
                    "notionalFloor": _number(to_decimal(tier.notional_from_units)),
                    "maintMarginRatio": _number(_fraction(tier.maintenance_rate)),
                    "cum": _number(_fraction(tier.deduction / SCALE)),
                }
            )
        return rows

    def max_leverage(self, venue: str) -> int:
        return self.schedules[venue].tiers[0].max_leverage

    def maintenance(self, venue: str, size: Decimal, mark: Decimal) -> Decimal:
        """MM of a position of |size| at ``mark`` by the bracket its notional falls in, rounded up
        to the core's 1e-18."""
        notional16 = int(_EXACT.multiply(abs(size), mark.quantize(MARK_QUANTUM)).scaleb(2 * PLACES))
        return to_decimal(self.schedules[venue].maintenance_margin_units(notional16))

    def liquidation_prices(
        self, wallet: Decimal, positions: list[tuple[str, Decimal, Decimal, Decimal]]
    ) -> dict[str, Decimal | None]:
        """Liquidation price per venue of one account's cross positions in one margin asset:
        ``positions`` = (venue, signed size, entry cost (signed, size x entry price), mark).
        The margin core holds one net position per market, so hedge mode's LONG and SHORT rows
        of a venue are netted (both rows show the net position's price). None where no
        positive price liquidates a long (or the sides net to zero); the mark itself when the
        margin balance is already <= 0 (the account is due for liquidation now)."""
        net: dict[str, list[Decimal]] = {}
        for venue, size, cost, mark in positions:
            held = net.setdefault(venue, [Decimal(0), Decimal(0), mark.quantize(MARK_QUANTUM)])
            held[0] += size
            held[1] += cost
        ledger = MarginLedger("QUOTE")
        balance = wallet
        for venue, (size, cost, mark8) in net.items():
            self.rules[venue].register(ledger)
            ledger.set_mark(self.rules[venue].name, mark8)
            ledger.set_mark(self.rules[venue].oracle, mark8)
            balance += _EXACT.multiply(size, mark8) - cost
        balance = balance.quantize(MARK_QUANTUM, rounding=ROUND_FLOOR)
        if balance <= 0:
            return {venue: held[2] for venue, held in net.items()}
        sub = ledger.open_subaccount("server", "main")
        ledger.deposit(sub, "QUOTE", balance)
        for venue, (size, _cost, mark8) in net.items():
            if size:
                side = "buy" if size > 0 else "sell"
                ledger.book_leg(
                    sub, LedgerLeg("perp", self.rules[venue].name, side, abs(size), mark8)
                )
        return {
            venue: ledger.liquidation_price(sub, self.rules[venue].name) if held[0] else None
            for venue, held in net.items()
        }


def _fraction(value: Any) -> Decimal:
    return _EXACT.divide(Decimal(value.numerator), Decimal(value.denominator))


def _number(value: Decimal) -> float | int:
    """JSON numbers as Binance sends them in leverageBracket (ints where whole)."""
    return int(value) if value == value.to_integral_value() else float(value)
