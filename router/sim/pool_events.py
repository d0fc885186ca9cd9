"""Replay of a concentrated-liquidity pool from its events, in Uniswap v3's event shape.

CSV, one event a row, header required (the fields of the pool's ``Initialize``, ``Mint``,
``Burn`` and ``Swap`` logs; empty where an event has no such field)::

    block_number,log_index,timestamp_ns,event,owner,tick_lower,tick_upper,amount,amount0,amount1,sqrt_price_x96,liquidity,tick

- ``Initialize``: ``sqrt_price_x96``, ``tick`` (first row, once);
- ``Mint`` / ``Burn``: ``owner``, ``tick_lower``, ``tick_upper``, ``amount`` (raw liquidity L),
  ``amount0`` / ``amount1`` (token base units paid in / credited);
- ``Swap``: ``amount0`` / ``amount1`` (signed, the pool's side: > 0 into the pool),
  ``sqrt_price_x96``, ``liquidity``, ``tick`` after the swap.

Rows are ordered by (block_number, log_index) and timed by ``timestamp_ns`` (integer ns, never
going back). :class:`PoolReplay` applies them to a ``venues.clmm.ConcentratedLiquidityPool``
with the pool's own exact math and checks every result against the row while the pool is as
recorded: a mint or burn must move exactly ``amount0``/``amount1``, a swap (exact input, limited
at the recorded price) must end at the recorded price, liquidity and tick with the recorded
amounts. A mismatch is a FeedError naming ``file:line``: the math or the data is wrong. Once a
trade that is not in the recording has touched the pool (the router's), the recorded swaps are
replayed by their input amount only (the price then differs from the recording's, as it would
have), and mints and burns as recorded.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from router.sim.errors import FeedError
from venues.clmm import ConcentratedLiquidityPool
from venues.clmm.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from venues.errors import VenueError

__all__ = ["HEADER", "PoolEvent", "PoolReplay", "read_pool_events"]

HEADER = [
    "block_number",
    "log_index",
    "timestamp_ns",
    "event",
    "owner",
    "tick_lower",
    "tick_upper",
    "amount",
    "amount0",
    "amount1",
    "sqrt_price_x96",
    "liquidity",
    "tick",
]
_FIELDS = {
    "Initialize": ("sqrt_price_x96", "tick"),
    "Mint": ("owner", "tick_lower", "tick_upper", "amount", "amount0", "amount1"),
    "Burn": ("owner", "tick_lower", "tick_upper", "amount", "amount0", "amount1"),
    "Swap": ("amount0", "amount1", "sqrt_price_x96", "liquidity", "tick"),
}
_INT_FIELDS = set(HEADER) - {"event", "owner"}


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """One pool event; fields an event does not have are None. ``where``: ``file:line``."""

    where: str
    block_number: int
    log_index: int
    timestamp_ns: int
    event: str
    owner: str | None
    tick_lower: int | None
    tick_upper: int | None
    amount: int | None
    amount0: int | None
    amount1: int | None
    sqrt_price_x96: int | None
    liquidity: int | None
    tick: int | None


def _int(text: str, where: str, field: str) -> int:
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isdecimal() and digits.isascii()) or len(digits) > 80:
        raise FeedError(where, text, f"{field}: an integer (at most 80 digits)")
    return int(text)


def read_pool_events(path: str | Path) -> list[PoolEvent]:
    """Parse and check a pool event CSV (module docstring). O(rows). FeedError on the first bad
    row, naming ``file:line``, the value and what is allowed."""
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise FeedError("path", str(path), "an existing pool event CSV file")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedError("path", str(path), f"a readable UTF-8 CSV file ({exc})") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header != HEADER:
        raise FeedError(f"{path}:1", header, f"the header {','.join(HEADER)}")
    events: list[PoolEvent] = []
    last = (-1, -1, -1)
    for line_no, row in enumerate(rows, 2):
        where = f"{path}:{line_no}"
        if not row:
            continue
        if len(row) != len(HEADER):
            raise FeedError(where, row, f"{len(HEADER)} columns")
        values = dict(zip(HEADER, row))
        kind = values["event"]
        if kind not in _FIELDS:
            raise FeedError(where, kind, "event: Initialize, Mint, Burn or Swap")
        if (kind == "Initialize") != (not events):
            raise FeedError(where, kind, "one Initialize, as the first row")
        out: dict = {"where": where, "event": kind}
        for field in HEADER:
            if field == "event":
                continue
            text = values[field]
            required = field in _FIELDS[kind] or field in (
                "block_number",
                "log_index",
                "timestamp_ns",
            )
            if not text:
                if required:
                    raise FeedError(where, text, f"{field}: required for {kind}")
                out[field] = None
            elif not required:
                raise FeedError(where, text, f"{field}: empty for {kind}")
            else:
                out[field] = text if field == "owner" else _int(text, where, field)
        key = (out["block_number"], out["log_index"], out["timestamp_ns"])
        if key[:2] <= last[:2] or key[2] < last[2] or min(key) < 0:
            raise FeedError(
                where,
                f"block {key[0]} log {key[1]} at {key[2]} ns",
                "rows in (block_number, log_index) order, times never going back",
            )
        last = key
        events.append(PoolEvent(**out))
    if not events:
        raise FeedError(str(path), "", "at least the Initialize row")
    return events


class PoolReplay:
    """A pool rebuilt from its events; :meth:`advance` applies those up to a time.

    ``pool`` is built from the Initialize row with ``fee_pips`` and ``tick_spacing``. Call
    :meth:`diverged` when a trade that is not in the recording touched the pool."""

    def __init__(self, events: list[PoolEvent], fee_pips: int, tick_spacing: int) -> None:
        first = events[0]
        try:
            self.pool = ConcentratedLiquidityPool(fee_pips, tick_spacing, first.sqrt_price_x96)
        except (VenueError, TypeError) as exc:  # the venue's own errors name its checks
            raise FeedError(
                first.where, first.sqrt_price_x96, f"a pool it can start ({exc})"
            ) from None
        if self.pool.tick != first.tick:
            raise FeedError(first.where, first.tick, f"tick {self.pool.tick} of sqrt_price_x96")
        self.events = events
        self.next = 1
        self.exact = True  # the pool is still as recorded
        self.applied = 0

    def diverged(self) -> None:
        self.exact = False

    def advance(self, until_ns: int) -> int:
        """Apply the events timed at or before ``until_ns``; returns how many. O(events)."""
        done = 0
        while self.next < len(self.events) and self.events[self.next].timestamp_ns <= until_ns:
            self._apply(self.events[self.next])
            self.next += 1
            done += 1
        self.applied += done
        return done

    def _apply(self, e: PoolEvent) -> None:
        pool = self.pool
        try:
            if e.event == "Mint":
                got = pool.mint(e.owner, e.tick_lower, e.tick_upper, e.amount)
                if got != (e.amount0, e.amount1):
                    raise FeedError(e.where, (e.amount0, e.amount1), f"the pool's amounts {got}")
            elif e.event == "Burn":
                held = pool.positions(e.owner, e.tick_lower, e.tick_upper).liquidity
                amount = min(e.amount, held) if not self.exact else e.amount
                got = pool.burn(e.owner, e.tick_lower, e.tick_upper, amount)
                if self.exact and got != (e.amount0, e.amount1):
                    raise FeedError(e.where, (e.amount0, e.amount1), f"the pool's amounts {got}")
            else:
                self._swap(e)
        except FeedError:
            raise
        except (VenueError, TypeError) as exc:  # the recording does not fit the pool
            raise FeedError(e.where, e.event, f"an event the pool accepts ({exc})") from None

    def _swap(self, e: PoolEvent) -> None:
        pool = self.pool
        zero_for_one = e.amount0 > 0
        amount_in = e.amount0 if zero_for_one else e.amount1
        if amount_in <= 0:
            raise FeedError(e.where, (e.amount0, e.amount1), "one positive (input) amount")
        if self.exact:
            got = pool.swap(zero_for_one, amount_in, e.sqrt_price_x96)
            after = (got, pool.sqrt_price_x96, pool.liquidity, pool.tick)
            want = ((e.amount0, e.amount1), e.sqrt_price_x96, e.liquidity, e.tick)
            if after != want:
                raise FeedError(e.where, want, f"what the pool did: {after}")
        else:
            pool.swap(
                zero_for_one, amount_in, MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            )
