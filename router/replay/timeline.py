"""Replay a trader's fills through the margin core: the portfolio and its margin over time.

The portfolio is rebuilt on the simulated clock, one event at a time: marks (from a marks file or
the fills themselves) and fills, merged by time; at the same instant marks come first, so a fill
is booked against the prices of its moment. Fills are booked as they happened: a replay never
refuses a fill the trader did (a real account may well have traded itself below margin), it shows
what the margin core makes of it. After every event the state is judged: the first event at which
maintenance equity is below the maintenance requirement (cross), or an isolated position's bucket
is below its own requirement (isolated), is the first liquidation under the chosen rules. What a
liquidation would have closed, and at what loss, is computed on a copy of the ledger at that
moment by the margin core's own liquidation, which closes at the marks of that moment.

Samples are taken after every fill, and after every mark instant at most once per ``every_ns``
(all of them when it is 0); the first liquidation is always a sample. Each sample carries the
counterparty view: what each venue holds of the trader's positions and spot flows. Liquidation
prices (an exact search per position) are computed at the interval samples, the first liquidation
and the last sample; a fill's sample carries equity, requirements, headroom and positions.

Cost: O(events) ledger updates, each O(tiers) on the cached totals (the ledger's incremental
figures); liquidation prices O(log price) at the interval samples only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from router.config import MarginConfig, MarginMarketConfig
from router.margin.checks import LedgerLeg
from router.margin.errors import MarginInputError
from router.margin.journal import Journal
from router.margin.ledger import MarginLedger
from router.margin.quantities import to_decimal
from router.model.errors import ConfigError
from router.replay.fills import Fill
from router.replay.marks import Mark

CROSS, ISOLATED = "cross", "isolated"
MODES = (CROSS, ISOLATED)
ACCOUNT = "replay"
SUBACCOUNT = "main"
COLLATERAL_VENUE = "collateral"  # where --collateral lives when it names no venue
FUNDING_HOURS_UTC = (0, 8, 16)  # Binance USD-M's settlement times


def iso_time(time_ns: int) -> str:
    """Integer nanoseconds as ISO 8601 UTC, exact: ``2024-08-08T00:00:01.5Z``."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    size: Decimal
    mark: Decimal
    liquidation_price: Decimal | None  # None: no price liquidates it (or not priced, see below)
    priced: bool  # the liquidation price was computed (interval samples, not every fill)


@dataclass(frozen=True, slots=True)
class Sample:
    """The account after one event, in quote units of the margin core."""

    time_ns: int
    cause: str  # "fill" | "mark" | "liquidation"
    equity: Decimal
    maintenance_equity: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    headroom: Decimal
    positions: tuple[Position, ...]
    venue_holdings: Mapping[str, Mapping[str, Decimal]]

    def to_json(self) -> dict[str, Any]:
        return {
            "time": iso_time(self.time_ns),
            "cause": self.cause,
            "equity": _text(self.equity),
            "maintenance_equity": _text(self.maintenance_equity),
            "initial_margin": _text(self.initial_margin),
            "maintenance_margin": _text(self.maintenance_margin),
            "headroom": _text(self.headroom),
            "positions": [
                {
                    "symbol": p.symbol,
                    "size": _text(p.size),
                    "mark": _text(p.mark),
                    **(
                        {
                            "liquidation_price": None
                            if p.liquidation_price is None
                            else _text(p.liquidation_price)
                        }
                        if p.priced
                        else {}
                    ),
                }
                for p in self.positions
            ],
            "venue_holdings": {
                venue: {asset: _text(qty) for asset, qty in sorted(assets.items())}
                for venue, assets in sorted(self.venue_holdings.items())
            },
        }


@dataclass(frozen=True, slots=True)
class Liquidation:
    """The first liquidation: when, at which marks, and what the margin core would have closed."""

    sample: Sample
    marks: Mapping[str, Decimal]
    closed: tuple[tuple[str, Decimal, Decimal, Decimal], ...]  # symbol, closed size, price, fee
    loss: Decimal  # equity before minus equity after the liquidation (fees and price impact)
    bad_debt: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "time": iso_time(self.sample.time_ns),
            "marks": {name: _text(price) for name, price in sorted(self.marks.items())},
            "maintenance_equity": _text(self.sample.maintenance_equity),
            "maintenance_margin": _text(self.sample.maintenance_margin),
            "closed": [
                {"symbol": s, "size": _text(q), "price": _text(p), "fee": _text(f)}
                for s, q, p, f in self.closed
            ],
            "loss": _text(self.loss),
            "bad_debt": _text(self.bad_debt),
        }


@dataclass(slots=True)
class Timeline:
    mode: str
    quote: str
    samples: list[Sample] = field(default_factory=list)
    first_liquidation: Liquidation | None = None
    peak_capital_locked: Decimal = Decimal(0)
    fills: int = 0
    marks: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "quote": self.quote,
            "fills": self.fills,
            "marks": self.marks,
            "samples": [s.to_json() for s in self.samples],
            "first_liquidation": None
            if self.first_liquidation is None
            else self.first_liquidation.to_json(),
            "peak_capital_locked": _text(self.peak_capital_locked),
        }


class Replay:
    """One replay of ``fills`` and ``marks`` under ``rules`` (a market config's ``[margin]``)."""

    def __init__(
        self,
        rules: MarginConfig,
        rules_file: str,
        collateral: Mapping[str, Mapping[str, Decimal]],
        mode: str = CROSS,
    ) -> None:
        if mode not in MODES:
            raise ConfigError("<command line>", "--mode", mode, "cross or isolated")
        self.rules = rules
        self.rules_file = rules_file
        self.collateral = collateral  # venue -> asset -> amount
        self.mode = mode
        self.quote = rules.quote
        self.perps: dict[str, MarginMarketConfig] = {m.symbol: m for m in rules.markets}
        self.own_oracle_marks: set[str] = set()

    # -- setup ---------------------------------------------------------------------------------

    def symbols(self) -> tuple[str, ...]:
        """The market list fills and marks are normalised onto: every perp of the rules, and the
        spot pair of every asset the rules weight, quoted in the collateral asset."""
        spot = {f"{a.name}/{self.quote}" for a in self.rules.assets if a.name != self.quote}
        spot |= {f"{m.oracle}/{self.quote}" for m in self.rules.markets}
        return tuple(sorted(set(self.perps) | spot))

    def mark_names(self) -> tuple[str, ...]:
        """Names a marks file may use: the symbols and the bare assets."""
        assets = {s.split("/")[0] for s in self.symbols() if ":" not in s}
        return tuple(sorted(set(self.symbols()) | assets))

    def _ledger(self, fills: Sequence[Fill], marks: Sequence[Mark]) -> tuple[MarginLedger, str]:
        ledger = MarginLedger(
            self.quote,
            liquidation_fee_bps=self.rules.liquidation_fee_bps,
            liquidation_buffer_bps=self.rules.liquidation_buffer_bps,
            journal=_Unjournaled(),
        )
        assets = {f.base for f in fills if not f.is_perp}
        assets |= {m.oracle for m in self.rules.markets}
        assets |= {a for held in self.collateral.values() for a in held}
        assets.discard(self.quote)
        # The ledger needs a price for every name from the start: the first price each name shows
        # (a mark, else a fill); no sample is taken before the first event, so this looks ahead
        # of nothing a sample reports. An oracle without marks of its own follows its perp.
        first_price: dict[str, Decimal] = {}
        events = sorted(
            [(m.time_ns, 0, m.symbol, m.price) for m in marks]
            + [(f.time_ns, 1, f.symbol, f.price) for f in fills]
        )
        for _, _, symbol, price in events:
            for target in self._mark_targets(symbol):
                first_price.setdefault(target, price)
        key = "margin"
        try:
            for asset in sorted(assets):
                key = f"margin.assets.{asset}"
                weights = self.rules.asset(asset)
                ledger.add_asset(
                    asset,
                    weights.initial_weight,
                    weights.maintenance_weight,
                    weights.initial_liability_weight,
                    weights.maintenance_liability_weight,
                )
                price = first_price.get(asset)
                if price is None:
                    raise ConfigError(
                        self.rules_file, "marks", asset, f"a mark of {asset} (--marks)"
                    )
                ledger.set_mark(asset, price)
            for spec in self.rules.markets:
                key = f'margin.markets."{spec.symbol}"'
                tiers = [
                    {"notional_from": t.notional_from, "max_leverage": t.max_leverage}
                    for t in spec.tiers
                ]
                ledger.add_market(spec.name, spec.oracle, tiers=tiers, funding_cap=spec.funding_cap)
                price = first_price.get(spec.name)
                if price is not None:
                    ledger.set_mark(spec.name, price)
            sub_id = ledger.open_subaccount(ACCOUNT, SUBACCOUNT)
            for held in self.collateral.values():
                for asset, amount in sorted(held.items()):
                    key = f"--collateral {asset}"
                    ledger.deposit(sub_id, asset, amount)
        except MarginInputError as exc:
            raise ConfigError(
                self.rules_file, f"{key}: {exc.field}", exc.value, exc.allowed
            ) from None
        return ledger, sub_id

    def _mark_targets(self, symbol: str) -> tuple[str, ...]:
        """The ledger names a mark of ``symbol`` sets: a perp's market (and its oracle asset when
        the marks give the oracle no price of its own: funding premium zero), or an asset."""
        spec = self.perps.get(symbol)
        if spec is None:
            return (symbol.split("/", maxsplit=1)[0],)
        if spec.oracle in self.own_oracle_marks:
            return (spec.name,)
        return (spec.name, spec.oracle)

    # -- the replay ----------------------------------------------------------------------------

    def _events(
        self, fills: Sequence[Fill], marks: Sequence[Mark]
    ) -> Iterator[tuple[int, list[Mark], Fill | None]]:
        """(time, marks of that instant not yet applied, fill or None), marks first at a tie."""
        i = j = 0
        while i < len(fills) or j < len(marks):
            t = min(
                fills[i].time_ns if i < len(fills) else marks[j].time_ns,
                marks[j].time_ns if j < len(marks) else fills[i].time_ns,
            )
            due: list[Mark] = []
            while j < len(marks) and marks[j].time_ns <= t:
                due.append(marks[j])
                j += 1
            if due:
                yield t, due, None
            while i < len(fills) and fills[i].time_ns <= t:
                yield t, [], fills[i]
                i += 1

    def run(
        self,
        fills: Sequence[Fill],
        marks: Sequence[Mark],
        every_ns: int = 0,
        *,
        check: bool = False,
    ) -> Timeline:
        """Replay the events; ``check`` runs the ledger's invariants after every one (tests)."""
        self.own_oracle_marks = {
            m.symbol.split("/")[0] for m in marks if m.symbol not in self.perps
        }
        ledger, sub_id = self._ledger(fills, marks)
        timeline = Timeline(self.mode, self.quote, fills=len(fills), marks=len(marks))
        holdings: dict[str, dict[str, Decimal]] = {
            venue: dict(held) for venue, held in self.collateral.items()
        }
        latest: dict[str, Decimal] = {}  # symbol -> its last price (for the report)
        marked: set[str] = set()  # ledger names that have had a price of their own
        last_mark_sample: int | None = None
        funding_due = _next_funding(fills[0].time_ns if fills else 0)
        for t, due, fill in self._events(fills, marks):
            while t >= funding_due:
                self._fund(ledger)
                funding_due = _next_funding(funding_due)
            for mark in due:
                latest[mark.symbol] = mark.price
                self._set_mark(ledger, mark.symbol, mark.price)
                marked.update(self._mark_targets(mark.symbol))
            if fill is not None:
                unmarked = [n for n in self._mark_targets(fill.symbol) if n not in marked]
                if unmarked:  # no mark yet: the fill's own price is the mark
                    latest[fill.symbol] = fill.price
                    self._set_mark(ledger, fill.symbol, fill.price)
                    marked.update(unmarked)
                self._book(ledger, sub_id, fill)
                _hold(holdings, fill)
            if check:
                ledger._check()
            breached = sub_id in ledger.liquidatable()
            first = breached and timeline.first_liquidation is None
            wanted = (
                fill is not None
                or first
                or last_mark_sample is None
                or t - last_mark_sample >= every_ns
            )
            if not wanted:
                continue
            summary = ledger.summary(sub_id)
            timeline.peak_capital_locked = max(
                timeline.peak_capital_locked, _capital_locked(ledger, sub_id, summary)
            )
            detail = fill is None or first
            cause = "fill" if fill else "mark"
            sample = self._sample(ledger, sub_id, t, cause, holdings, summary, detail)
            if fill is None:
                last_mark_sample = t
            timeline.samples.append(sample)
            if first:
                timeline.first_liquidation = self._liquidation(ledger, sub_id, sample, latest)
        last = timeline.samples[-1] if timeline.samples else None
        if last is not None and not all(p.priced for p in last.positions):
            summary = ledger.summary(sub_id)  # the state after the last event: price it in full
            timeline.samples[-1] = self._sample(
                ledger, sub_id, last.time_ns, last.cause, holdings, summary, True
            )
        return timeline

    def _set_mark(self, ledger: MarginLedger, symbol: str, price: Decimal) -> None:
        for target in self._mark_targets(symbol):
            if target in ledger.markets or target in ledger.assets:
                ledger.set_mark(target, price)

    def _fund(self, ledger: MarginLedger) -> None:
        for spec in self.rules.markets:
            if spec.funding_cap and spec.name in ledger.marks and spec.oracle in ledger.marks:
                ledger.accrue_funding(spec.name)

    def _book(self, ledger: MarginLedger, sub_id: str, fill: Fill) -> None:
        """Book ``fill`` as it happened (no pre-trade check). A fee in the base asset is booked as
        its quote value at the fill price; a fee in any other asset is refused."""
        if fill.fee_asset == fill.quote:
            fee = fill.fee
        elif fill.fee_asset == fill.base:
            fee = fill.fee * fill.price
        else:
            raise ConfigError(
                fill.where, "fee_asset", fill.fee_asset, f"{fill.quote} or {fill.base}"
            )
        if fill.quote != self.quote:
            raise ConfigError(
                fill.where, "symbol", fill.symbol, f"a market settled in {self.quote}"
            )
        fee = fee.quantize(Decimal("1E-8"), rounding=ROUND_CEILING)  # against the account
        try:
            if fill.is_perp:
                margin = None
                if self.mode == ISOLATED:
                    spec = self.perps[fill.symbol]
                    margin = (fill.qty * fill.price / spec.tiers[0].max_leverage).quantize(
                        Decimal("1E-8"), rounding=ROUND_CEILING
                    )
                leg = LedgerLeg(
                    "perp",
                    self.perps[fill.symbol].name,
                    fill.side,
                    fill.qty,
                    fill.price,
                    max(fee, Decimal(0)),
                    margin,
                )
            else:
                leg = LedgerLeg(
                    "spot", fill.base, fill.side, fill.qty, fill.price, max(fee, Decimal(0))
                )
            ledger.book_leg(sub_id, leg)
        except MarginInputError as exc:
            raise ConfigError(fill.where, exc.field, exc.value, exc.allowed) from None

    def _sample(
        self,
        ledger: MarginLedger,
        sub_id: str,
        t: int,
        cause: str,
        holdings: Mapping[str, Mapping[str, Decimal]],
        summary: Mapping[str, Decimal],
        detail: bool,
    ) -> Sample:
        positions = []
        sub = ledger.subaccount(sub_id)
        for symbol, spec in sorted(self.perps.items()):
            pos = sub.positions.get(spec.name)
            if pos is None:
                continue
            positions.append(
                Position(
                    symbol,
                    to_decimal(pos.size_units),
                    to_decimal(ledger.marks[spec.name].price_units or 0),
                    ledger.liquidation_price(sub_id, spec.name) if detail else None,
                    detail,
                )
            )
        return Sample(
            t,
            cause,
            summary["equity"],
            summary["maintenance_equity"],
            summary["initial_margin"],
            summary["maintenance_margin"],
            summary["headroom"],
            tuple(positions),
            {venue: dict(held) for venue, held in holdings.items() if any(held.values())},
        )

    def _liquidation(
        self,
        ledger: MarginLedger,
        sub_id: str,
        sample: Sample,
        latest: Mapping[str, Decimal],
    ) -> Liquidation:
        what_if = ledger.clone()
        before = what_if.summary(sub_id)["equity"]
        result = what_if.liquidate(sub_id)
        after = what_if.summary(sub_id)["equity"]
        names = {spec.name: symbol for symbol, spec in self.perps.items()}
        closed = tuple(
            (
                names.get(step.symbol, step.symbol),
                to_decimal(step.closed_units),
                to_decimal(step.price_units),
                to_decimal(step.fee_units),
            )
            for step in result.steps
        )
        return Liquidation(
            sample,
            dict(latest),
            closed,
            before - after,
            to_decimal(result.bad_debt_units),
        )


class _Unjournaled(Journal):
    """A replay re-books history the trader already has: the ledger's hash-chained journal of every
    mark and booking would only cost time, so this one keeps nothing."""

    def append(self, event: str, **fields: Any) -> str:
        return ""


def _capital_locked(ledger: MarginLedger, sub_id: str, summary: Mapping[str, Decimal]) -> Decimal:
    """Quote capital the positions tie up: the cross initial requirement plus the margin posted
    to isolated positions (an isolated position locks what was posted, whatever it needs)."""
    posted = sum(p.isolated_margin_units for p in ledger.subaccount(sub_id).positions.values())
    return summary["initial_margin"] + to_decimal(posted)


def _text(value: Decimal) -> str:
    """Plain decimal text, never an exponent (``0E-8`` prints as ``0.00000000``)."""
    return format(value, "f")


def _hold(holdings: dict[str, dict[str, Decimal]], fill: Fill) -> None:
    """The counterparty view: the venue of ``fill`` now holds the trade's flows (perps: the
    position in base; spot: base in, quote out, and the reverse for sells; fees at the venue)."""
    held = holdings.setdefault(fill.venue, {})
    if fill.is_perp:
        held[fill.symbol] = held.get(fill.symbol, Decimal(0)) + fill.signed_qty
        held[fill.fee_asset] = held.get(fill.fee_asset, Decimal(0)) - fill.fee
        return
    held[fill.base] = held.get(fill.base, Decimal(0)) + fill.signed_qty
    held[fill.quote] = held.get(fill.quote, Decimal(0)) - fill.signed_qty * fill.price
    held[fill.fee_asset] = held.get(fill.fee_asset, Decimal(0)) - fill.fee


def _next_funding(time_ns: int) -> int:
    """The first funding settlement strictly after ``time_ns`` (00:00, 08:00, 16:00 UTC)."""
    period = 8 * 3600 * 1_000_000_000
    return (time_ns // period + 1) * period
