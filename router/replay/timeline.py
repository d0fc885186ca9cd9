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
figures); liquidation prices O(log price) at the interval samples only. Every row was validated
on import, so events reach the ledger in integer units through its unjournaled batch path
(``set_mark_units``, ``book_units``, ``margin_units``) and samples hold integer figures, turned
into decimal text only when serialised; the state is the checked path's, unit for unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from math import gcd
from typing import Any, NamedTuple

from router.app import add_margin_asset, add_margin_market
from router.config import MarginConfig, MarginMarketConfig
from router.margin.checks import LedgerLeg
from router.margin.errors import MarginInputError
from router.margin.journal import Journal
from router.margin.ledger import MarginLedger
from router.margin.quantities import SCALE, to_decimal, to_text
from router.model.errors import ConfigError
from router.replay.fills import Fill
from router.replay.marks import Mark
from router.sim.collector import cycle_collector_paused

CROSS, ISOLATED = "cross", "isolated"
MODES = (CROSS, ISOLATED)
ACCOUNT = "replay"
SUBACCOUNT = "main"
COLLATERAL_VENUE = "collateral"  # where --collateral lives when it names no venue
_HOUR_NS = 3600 * 1_000_000_000
_UNIT = Decimal("1E-8")  # the margin core's ledger unit
_SCALE = Decimal(SCALE)
_FAST_DIGITS = 18  # integer digits the fast conversion takes (the core allows more, checked)
_NEVER_NS = 2**63  # a sampling interval no replay reaches: only the samples fills force
_LIPSCHITZ = 12  # bound on quote moved per quote of held value moved (see _LazyMarks)


def iso_time(time_ns: int) -> str:
    """Integer nanoseconds as ISO 8601 UTC, exact: ``2024-08-08T00:00:01.5Z``."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


class Position(NamedTuple):
    """One perp position in a sample, in ledger units (converted when read or serialised)."""

    symbol: str
    size_units: int
    mark_units: int
    liquidation_price: Decimal | None  # None: no price liquidates it (or not priced, see below)
    priced: bool  # the liquidation price was computed (interval samples, not every fill)

    @property
    def size(self) -> Decimal:
        return to_decimal(self.size_units)

    @property
    def mark(self) -> Decimal:
        return to_decimal(self.mark_units)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "symbol": self.symbol,
            "size": to_text(self.size_units),
            "mark": to_text(self.mark_units),
        }
        if self.priced:
            price = self.liquidation_price
            out["liquidation_price"] = None if price is None else _text(price)
        return out


class Sample(NamedTuple):
    """The account after one event, in quote units of the margin core: a compact tuple holding
    the figures as integer ledger units (``figures``: equity, maintenance equity, initial and
    maintenance margin, headroom), converted to decimals only when read or serialised."""

    time_ns: int
    cause: str  # "fill" | "mark" | "liquidation"
    figures: tuple[int, int, int, int, int]
    positions: tuple[Position, ...]
    venue_holdings: Mapping[str, Mapping[str, Decimal]]  # venues holding nothing are left out

    @property
    def equity(self) -> Decimal:
        return to_decimal(self.figures[0])

    @property
    def maintenance_equity(self) -> Decimal:
        return to_decimal(self.figures[1])

    @property
    def initial_margin(self) -> Decimal:
        return to_decimal(self.figures[2])

    @property
    def maintenance_margin(self) -> Decimal:
        return to_decimal(self.figures[3])

    @property
    def headroom(self) -> Decimal:
        return to_decimal(self.figures[4])

    def to_json(self) -> dict[str, Any]:
        equity, maintenance_equity, initial, maintenance, headroom = self.figures
        return {
            "time": iso_time(self.time_ns),
            "cause": self.cause,
            "equity": to_text(equity),
            "maintenance_equity": to_text(maintenance_equity),
            "initial_margin": to_text(initial),
            "maintenance_margin": to_text(maintenance),
            "headroom": to_text(headroom),
            "positions": [p.to_json() for p in self.positions],
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
        # Only what the history touches: a rule set lists many markets, and one the fills and
        # marks never name needs no price (and gets none).
        used = {f.symbol for f in fills} | {m.symbol for m in marks}
        markets = [spec for spec in self.rules.markets if spec.symbol in used]
        assets = {f.base for f in fills if not f.is_perp}
        assets |= {m.oracle for m in markets}
        assets |= {a for held in self.collateral.values() for a in held}
        assets.discard(self.quote)
        # The ledger needs a price for every name from the start: the first price each name shows
        # (a mark, else a fill); no sample is taken before the first event, so this looks ahead
        # of nothing a sample reports. An oracle without marks of its own follows its perp.
        # The first event naming a target is the least (time, fill after mark, symbol, price)
        # of the events whose symbol sets it: one pass, not a sort of every event.
        first_event: dict[str, tuple[int, int, str, Decimal]] = {}
        for kind, rows in ((0, marks), (1, fills)):
            for row in rows:
                event = (row.time_ns, kind, row.symbol, row.price)
                held = first_event.get(row.symbol)
                if held is None or event < held:
                    first_event[row.symbol] = event
        first_price: dict[str, Decimal] = {}
        for event in sorted(first_event.values()):
            for target in self._mark_targets(event[2]):
                first_price.setdefault(target, event[3])
        key = "margin"
        try:
            for asset in sorted(assets):
                key = f"margin.assets.{asset}"
                add_margin_asset(ledger, self.rules.asset(asset))
                price = first_price.get(asset)
                if price is None:
                    raise ConfigError(
                        self.rules_file, "marks", asset, f"a mark of {asset} (--marks)"
                    )
                ledger.set_mark(asset, price)
            for spec in markets:
                key = f'margin.markets."{spec.symbol}"'
                add_margin_market(ledger, spec)
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

    def run(
        self,
        fills: Sequence[Fill],
        marks: Sequence[Mark],
        every_ns: int = 0,
        *,
        check: bool = False,
    ) -> Timeline:
        """Replay the events; ``check`` runs the ledger's invariants after every one (tests)."""
        return self._run(fills, marks, every_ns, check, None)[0]

    def state_at(
        self, fills: Sequence[Fill], marks: Sequence[Mark], at_ns: int
    ) -> tuple[MarginLedger, str]:
        """The ledger and subaccount as they stood at ``at_ns``: every event at or before it
        applied, and the funding settlements due by then."""
        return self._run(fills, marks, _NEVER_NS, False, at_ns)[1:]

    def _run(
        self,
        fills: Sequence[Fill],
        marks: Sequence[Mark],
        every_ns: int,
        check: bool,
        until_ns: int | None,
        lazy_marks: bool = True,
    ) -> tuple[Timeline, MarginLedger, str]:
        """The replay loop (:meth:`_replay`), with the cyclic collector paused: it keeps a sample
        per fill and makes no reference cycle (see :mod:`router.sim.collector`)."""
        with cycle_collector_paused():
            return self._replay(fills, marks, every_ns, check, until_ns, lazy_marks)

    def _replay(
        self,
        fills: Sequence[Fill],
        marks: Sequence[Mark],
        every_ns: int,
        check: bool,
        until_ns: int | None,
        lazy_marks: bool,
    ) -> tuple[Timeline, MarginLedger, str]:
        """The replay loop. Every row was validated on import, so marks and fills go to the
        margin core in integer ledger units through its unjournaled batch path (set_mark_units,
        book_cross_perp_units and book_units: the same state as set_mark and book_leg); samples
        keep integer figures."""
        self.own_oracle_marks = {
            m.symbol.split("/")[0] for m in marks if m.symbol not in self.perps
        }
        ledger, sub_id = self._ledger(fills, marks)
        sub = ledger.subs[sub_id]
        units_of = _UnitsMemo()  # a history repeats its sizes, fees and many of its prices
        bookings = [self._booking(fill, units_of) for fill in fills]  # all checked before any event
        targets = {  # symbol -> (ledger names its mark sets, those the ledger holds)
            symbol: (names, tuple(n for n in names if n in ledger.markets or n in ledger.assets))
            for symbol in {m.symbol for m in marks} | {f.symbol for f in fills}
            for names in (self._mark_targets(symbol),)
        }
        perps = [  # the markets a position can be held in (a rule set lists many)
            (symbol, spec.name)
            for symbol, spec in sorted(self.perps.items())
            if spec.name in ledger.markets
        ]
        timeline = Timeline(self.mode, self.quote, fills=len(fills), marks=len(marks))
        samples = timeline.samples
        holdings: dict[str, dict[str, Decimal]] = {
            venue: dict(held) for venue, held in self.collateral.items()
        }
        held_now = _held(holdings)
        latest: dict[str, Decimal] = {}  # symbol -> its last price (for the report)
        unmarked: set[str] = set()  # ledger names without a price of their own yet
        for names, _ in targets.values():
            unmarked.update(names)
        peak_locked = 0
        last_mark_sample: int | None = None
        period_ns = self._funding_period_ns()
        funding_due = _next_funding(fills[0].time_ns if fills else 0, period_ns)
        n_fills, n_marks = len(fills), len(marks)
        lazy = _LazyMarks(ledger, sub, sub_id) if lazy_marks and not check else None
        isolated = self.mode == ISOLATED
        i = j = 0
        while i < n_fills or j < n_marks:
            mark_next = j < n_marks and (i >= n_fills or marks[j].time_ns <= fills[i].time_ns)
            t = marks[j].time_ns if mark_next else fills[i].time_ns
            if until_ns is not None and t > until_ns:
                break
            while t >= funding_due:
                if lazy is not None:
                    lazy.flush()
                    lazy.changed()
                self._fund(ledger, funding_due)
                funding_due = _next_funding(funding_due, period_ns)
            fill = None
            if mark_next:  # every mark of this instant, one event
                while j < n_marks and marks[j].time_ns == t:
                    mark = marks[j]
                    j += 1
                    latest[mark.symbol] = mark.price
                    names, held_names = targets[mark.symbol]
                    units = units_of[mark.price]
                    for name in held_names:
                        if units is None:  # off the ledger grid: the checked path says why
                            if lazy is not None:
                                lazy.flush()
                            ledger.set_mark(name, mark.price)
                        elif lazy is not None:
                            lazy.pending[name] = units
                        else:
                            ledger.set_mark_units(name, units)
                    if unmarked:
                        unmarked.difference_update(names)
                if lazy is not None and lazy.pending:
                    due = last_mark_sample is None or t - last_mark_sample >= every_ns
                    if due or not lazy.provably_solvent():
                        lazy.flush()
                    else:  # no sample now, and the account is provably above maintenance
                        continue
            else:
                fill = fills[i]
                booking = bookings[i]
                i += 1
                kind, name, signed, price, fee, margin = booking
                in_place = kind == "perp" and margin is None
                fused = None  # a held-back mark of the fill's own market: set with the fill
                names, held_names = targets[fill.symbol]
                if lazy is not None:
                    if in_place:
                        fused = lazy.pending.pop(name, None)
                    lazy.flush_held(names)
                if unmarked and not unmarked.isdisjoint(names):
                    # no mark yet: the fill's own price is the mark
                    latest[fill.symbol] = fill.price
                    for target in held_names:
                        ledger.set_mark_units(target, price)
                    unmarked.difference_update(names)
                if not (
                    in_place
                    and ledger.book_cross_perp_units(sub_id, name, signed, price, fee, fused)
                ):
                    if fused is not None:
                        ledger.set_mark_units(name, fused)
                    ledger.book_units(sub_id, *booking)
                if lazy is not None:
                    lazy.changed()
                held_now = _hold(holdings, held_now, fill)
            if check:
                ledger._check()
            # the ledger's breach sets: below maintenance, cross or an isolated bucket (O(1))
            first = timeline.first_liquidation is None and sub_id in ledger.breaches
            if not (
                fill is not None
                or first
                or last_mark_sample is None
                or t - last_mark_sample >= every_ns
            ):
                continue
            if first and lazy is not None:
                lazy.flush()  # the what-if liquidation reads every mark
            figures = ledger.margin_units(sub_id)
            locked = figures[2]
            if isolated:  # cross replays hold no isolated bucket (bookings carry no margin)
                locked += sum(p.isolated_margin_units for p in sub.positions.values())
            peak_locked = max(peak_locked, locked)
            detail = fill is None or first
            sample = Sample(
                t,
                "mark" if fill is None else "fill",
                figures,
                self._positions(ledger, sub_id, perps, detail),
                held_now,
            )
            if fill is None:
                last_mark_sample = t
            samples.append(sample)
            if first:
                timeline.first_liquidation = self._liquidation(ledger, sub_id, sample, latest)
        if lazy is not None:
            lazy.flush()
        # the peak is a Decimal(0) until some sample locks capital (the report's "0" then)
        timeline.peak_capital_locked = to_decimal(peak_locked) if peak_locked else Decimal(0)
        last = samples[-1] if samples else None
        if last is not None and not all(p.priced for p in last.positions):
            # the state after the last event: price it in full
            samples[-1] = last._replace(
                figures=ledger.margin_units(sub_id),
                positions=self._positions(ledger, sub_id, perps, True),
            )
        while until_ns is not None and until_ns >= funding_due:
            self._fund(ledger, funding_due)
            funding_due = _next_funding(funding_due, period_ns)
        return timeline, ledger, sub_id

    def _funding_period_ns(self) -> int:
        """The settlement grid: every market settles at whole multiples of its own interval
        (``funding_interval_hours``) from 00:00 UTC, so the grid is their gcd in hours."""
        hours = gcd(*(spec.funding_interval_hours for spec in self.rules.markets)) or 8
        return hours * _HOUR_NS

    def _fund(self, ledger: MarginLedger, due_ns: int) -> None:
        """Settle the markets whose interval ends at ``due_ns`` (Binance: 00/08/16 UTC for 8
        hours, every 4 hours from 00:00 for 4, ...)."""
        hour = due_ns // _HOUR_NS
        for spec in self.rules.markets:
            if hour % spec.funding_interval_hours:
                continue
            if spec.funding_cap and spec.name in ledger.marks and spec.oracle in ledger.marks:
                ledger.accrue_funding(spec.name)

    def _booking(
        self, fill: Fill, units_of: _UnitsMemo
    ) -> tuple[str, str, int, int, int, int | None]:
        """``fill`` as the margin core books it, in ledger units: (kind, ledger name, signed size,
        price, fee, isolated margin). A fee in the base asset is booked as its quote value at
        the fill price; a fee in any other asset is refused. The units are checked as a LedgerLeg
        checks them (a value off the 1e-18 grid or out of range gets the leg's own error)."""
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
        fee = max(fee.quantize(_UNIT, rounding=ROUND_CEILING), Decimal(0))  # against the account
        margin = None
        if fill.is_perp:
            kind, name = "perp", self.perps[fill.symbol].name
            if self.mode == ISOLATED:
                spec = self.perps[fill.symbol]
                margin = (fill.qty * fill.price / spec.max_leverage).quantize(
                    _UNIT, rounding=ROUND_CEILING
                )
        else:
            kind, name = "spot", fill.base
        units = (units_of[fill.qty], units_of[fill.price], units_of[fee])
        margin_units = None if margin is None else _units(margin)
        size, price, fee_units = units
        if (
            size is None
            or price is None
            or fee_units is None
            or size <= 0
            or price <= 0
            or fee_units < 0
            or (margin is not None and (margin_units is None or margin_units < 0))
        ):
            try:  # the checked path names the field and what is allowed
                leg = LedgerLeg(kind, name, fill.side, fill.qty, fill.price, fee, margin)
            except MarginInputError as exc:
                raise ConfigError(fill.where, exc.field, exc.value, exc.allowed) from None
            size, price, fee_units = leg.size_units, leg.price_units, leg.fee_units
            margin_units = leg.isolated_margin_units
        signed = size if fill.side == "buy" else -size
        return kind, name, signed, price, fee_units, margin_units

    def _positions(
        self,
        ledger: MarginLedger,
        sub_id: str,
        perps: Sequence[tuple[str, str]],
        detail: bool,
    ) -> tuple[Position, ...]:
        """The open positions by symbol; liquidation prices when ``detail``."""
        held = ledger.subs[sub_id].positions
        if not detail:  # a fill's sample: the hot path, no liquidation prices
            marks = ledger.marks
            return tuple(
                [
                    Position(symbol, pos.size_units, marks[name].price_units or 0, None, False)
                    for symbol, name in perps
                    if (pos := held.get(name)) is not None
                ]
            )
        return tuple(
            Position(
                symbol,
                held[name].size_units,
                ledger.marks[name].price_units or 0,
                ledger.liquidation_price(sub_id, name),
                True,
            )
            for symbol, name in perps
            if name in held
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


class _LazyMarks:
    """Marks held back while they provably cannot matter.

    Between samples a mark only has to reach the ledger if it could put the account below
    maintenance (the first liquidation is judged at every event). The maintenance excess E of the
    last exact state moves with the marks by at most L = sum over held names of |held| x |mark
    move| x ``_LIPSCHITZ`` (a perp's upnl moves by size x move, its maintenance requirement by at
    most that again, and the quote borrow's requirement by at most (liability weight - 1, <= 9)
    times the move of the settled quote; a spot balance's weighted value at most 10 x its value's
    move), plus one ledger unit of rounding per figure. While E > L the account is above
    maintenance at the new marks, so they wait in ``pending``; anything that needs the exact state
    (a fill, funding, a sample, a liquidation that may be due) flushes them first. The state after
    a flush is the eager one exactly: each mark overwrites the last, and the ledger's revaluation
    depends only on the latest mark of every name."""

    def __init__(self, ledger: MarginLedger, sub: Any, sub_id: str) -> None:
        self.ledger = ledger
        self.sub = sub
        self.sub_id = sub_id
        self.pending: dict[str, int] = {}
        self.excess: int | None = None  # E of the ledger's state now; None: to be computed
        self.budget = 0  # E less the rounding allowance

    def changed(self) -> None:
        """The exact state moved (a booking, funding): E is recomputed when next needed."""
        self.excess = None

    def flush(self) -> None:
        if self.pending:
            for name, units in self.pending.items():
                self.ledger.set_mark_units(name, units)
            self.pending.clear()
            self.excess = None

    def flush_held(self, names: tuple[str, ...]) -> None:
        """Before a fill of ``names``: apply the pending marks the subaccount's figures or the
        fill depend on; a mark of a name nothing holds (an oracle asset: funding reads it, and
        every flush before funding, a sample or the end applies it) changes no figure and waits.
        """
        pending = self.pending
        if not pending:
            return
        balances, positions = self.sub.balances, self.sub.positions
        due = [n for n in pending if n in balances or n in positions or n in names]
        if due:
            for name in due:
                self.ledger.set_mark_units(name, pending.pop(name))
            self.excess = None

    def provably_solvent(self) -> bool:
        """Whether the account is above maintenance at the pending marks (False: flush and judge
        exactly). O(pending names), after an O(isolated positions) refresh per exact state: the
        held amounts and applied marks are read from the ledger for the pending names only."""
        if self.excess is None:
            self._refresh()
        move = 0
        marks = self.ledger.marks
        balances, positions = self.sub.balances, self.sub.positions
        for name, units in self.pending.items():
            before = marks.get(name)
            if before is None or before.price_units is None:  # a first mark: judged exactly
                return False
            pos = positions.get(name)  # a name is a market or an asset, never both
            held = balances.get(name, 0) if pos is None else pos.size_units
            move += abs(held) * abs(units - before.price_units)
        return self.budget > -(-move * _LIPSCHITZ // SCALE)

    def _refresh(self) -> None:
        """E of the exact state now, less a unit of rounding per figure of every held name."""
        sub = self.sub
        figures = self.ledger.margin_units(self.sub_id)
        excess = figures[1] - figures[3]  # the quote borrow's requirement counted in full
        for symbol, pos in sub.positions.items():
            if pos.mode == ISOLATED:
                figs = sub.pos_vals[symbol]
                excess = min(excess, pos.isolated_margin_units + figs[1] + figs[2] - figs[4])
        self.excess = excess
        self.budget = excess - 4 * (len(sub.balances) + len(sub.positions) + 1)


class _Unjournaled(Journal):
    """A replay re-books history the trader already has: the ledger's hash-chained journal of every
    mark and booking would only cost time, so this one keeps nothing."""

    def append(self, event: str, **fields: Any) -> str:
        return ""


def _text(value: Decimal) -> str:
    """Plain decimal text, never an exponent (``0E-8`` prints as ``0.00000000``)."""
    return format(value, "f")


def _units(value: Decimal) -> int | None:
    """``value`` in ledger units (1e-18) when it is exactly on that grid and within the margin
    core's range, else None (the caller then takes the checked path, which says why). Exact: the
    value's lowest-terms ratio n/d is on the grid exactly when d divides SCALE."""
    if not value.is_finite() or value.adjusted() >= _FAST_DIGITS:
        return None
    numerator, denominator = value.as_integer_ratio()
    if SCALE % denominator:
        return None
    return numerator * (SCALE // denominator)


class _UnitsMemo(dict[Decimal, int | None]):
    """:func:`_units` of each value met, computed once (a lookup costs a tenth of it)."""

    def __missing__(self, value: Decimal) -> int | None:
        units = self[value] = _units(value)
        return units


def _held(holdings: Mapping[str, Mapping[str, Decimal]]) -> dict[str, Mapping[str, Decimal]]:
    """The counterparty view of one moment: the venues holding anything."""
    return {venue: held for venue, held in holdings.items() if any(held.values())}


def _hold(
    holdings: dict[str, dict[str, Decimal]],
    held_now: Mapping[str, Mapping[str, Decimal]],
    fill: Fill,
) -> dict[str, Mapping[str, Decimal]]:
    """The counterparty view after ``fill`` (``held_now``: the view before it): its venue now
    holds the trade's flows (perps: the position in base; spot: base in, quote out, and the
    reverse for sells; fees at the venue). The venue's table is replaced, never changed, so
    samples share the tables of the others; only this venue's entry of the view can change."""
    venue = fill.venue
    held = dict(holdings.get(venue, _NOTHING))
    symbol = fill.symbol
    signed = fill.signed_qty
    zero = _ZERO
    if ":" in symbol:  # a perp
        held[symbol] = held.get(symbol, zero) + signed
    else:
        base, quote = fill.base, fill.quote
        held[base] = held.get(base, zero) + signed
        held[quote] = held.get(quote, zero) - signed * fill.price
    held[fill.fee_asset] = held.get(fill.fee_asset, zero) - fill.fee
    holdings[venue] = held
    view = dict(held_now)
    if any(held.values()):
        view[venue] = held
    else:
        view.pop(venue, None)
    return view


_ZERO = Decimal(0)
_NOTHING: dict[str, Decimal] = {}


def _next_funding(time_ns: int, period_ns: int) -> int:
    """The first settlement of the grid strictly after ``time_ns``."""
    return (time_ns // period_ns + 1) * period_ns
