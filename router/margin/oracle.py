"""Mark prices from several oracle sources: median after dropping stale readings and outliers.

Timestamps are integer nanoseconds and the caller passes ``now_ns``: nothing here reads a clock,
so identical inputs always give the identical mark. Prices are ledger units (1e-18 quote per base).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.margin.errors import MarginInputError
from router.margin.quantities import BPS, parse_int, parse_name, parse_units, to_decimal

VALID, STALE, NO_QUORUM, MISSING = "valid", "stale", "no_quorum", "missing"


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """An aggregated price and its validity state.

    ``price_units`` is the last computable median (None when no reading exists); ``state`` is
    ``valid`` only when at least ``quorum`` fresh, non-outlier sources agree. An invalid mark may
    still carry a price: risk-reducing legs are valued at it, risk-increasing ones are blocked.
    """

    asset: str
    price_units: int | None
    state: str
    sources_used: tuple[str, ...] = ()
    dropped_stale: tuple[str, ...] = ()
    dropped_outliers: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.state == VALID and self.price_units is not None


def _median_units(prices: list[int]) -> int:
    """Median of sorted ints; an even count averages the middle two, rounding half to even."""
    n = len(prices)
    mid = n // 2
    if n % 2:
        return prices[mid]
    total = prices[mid - 1] + prices[mid]
    half, odd = divmod(total, 2)
    # a tie between two quanta goes to the even one: deterministic and unbiased
    return half + (1 if odd and half % 2 else 0)


def aggregate(
    asset: str,
    readings: dict[str, tuple[int, int]],
    now_ns: int,
    max_age_ns: int,
    max_deviation_bps: int,
    quorum: int,
) -> MarkPrice:
    """Aggregate {source: (price_units, ts_ns)} into a :class:`MarkPrice`.

    Drops readings older than ``max_age_ns`` (or from the future), takes the median of the rest,
    drops those deviating more than ``max_deviation_bps`` from it, and takes the median again.
    O(n log n) in the number of sources.
    """
    fresh = sorted(
        (price, src) for src, (price, ts) in readings.items() if 0 <= now_ns - ts <= max_age_ns
    )
    stale = tuple(
        sorted(src for src, (_, ts) in readings.items() if not 0 <= now_ns - ts <= max_age_ns)
    )
    if not readings:
        return MarkPrice(asset, None, MISSING)
    if not fresh:
        # keep the newest stale price so risk-reducing legs can still be valued
        newest = max(readings.items(), key=lambda kv: (kv[1][1], kv[0]))[1][0]
        return MarkPrice(asset, newest, STALE, (), stale)
    first = _median_units([p for p, _ in fresh])
    kept = [(p, s) for p, s in fresh if abs(p - first) * BPS <= max_deviation_bps * first]
    outliers = tuple(
        sorted(s for p, s in fresh if abs(p - first) * BPS > max_deviation_bps * first)
    )
    price = _median_units([p for p, _ in kept]) if kept else first
    state = VALID if len(kept) >= quorum else NO_QUORUM
    return MarkPrice(asset, price, state, tuple(sorted(s for _, s in kept)), stale, outliers)


class OracleBook:
    """Latest reading per (asset, source); marks are aggregated on demand for a given ``now_ns``.

    Memory O(assets x sources); :meth:`mark` is O(s log s) for s sources of the asset.
    """

    def __init__(self, max_age_ns: Any, max_deviation_bps: Any, quorum: Any) -> None:
        self.max_age_ns = parse_int("max_age_ns", max_age_ns, minimum=0)
        self.max_deviation_bps = parse_int("max_deviation_bps", max_deviation_bps, minimum=0)
        self.quorum = parse_int("quorum", quorum, minimum=1)
        self._readings: dict[str, dict[str, tuple[int, int]]] = {}

    def update(self, asset: Any, source: Any, price: Any, ts_ns: Any) -> None:
        """Record ``source``'s latest ``price`` (decimal, > 0) for ``asset`` at ``ts_ns``.

        A reading older than the one held for that source is refused (sources are monotone).
        """
        asset = parse_name("asset", asset)
        source = parse_name("source", source)
        price_units = parse_units("price", price, positive=True)
        ts = parse_int("ts_ns", ts_ns, minimum=0)
        held = self._readings.get(asset, {}).get(source)
        if held is not None and ts < held[1]:
            raise MarginInputError(
                "ts_ns", ts_ns, f"an integer >= {held[1]} (the source's last timestamp)"
            )
        self._readings.setdefault(asset, {})[source] = (price_units, ts)

    def mark(self, asset: Any, now_ns: Any) -> MarkPrice:
        """The aggregated mark of ``asset`` at ``now_ns``; state ``missing`` if never quoted."""
        asset = parse_name("asset", asset)
        now = parse_int("now_ns", now_ns, minimum=0)
        return aggregate(
            asset,
            self._readings.get(asset, {}),
            now,
            self.max_age_ns,
            self.max_deviation_bps,
            self.quorum,
        )

    def assets(self) -> tuple[str, ...]:
        return tuple(sorted(self._readings))

    def snapshot(self) -> dict[str, dict[str, tuple[int, int]]]:
        return {a: dict(r) for a, r in self._readings.items()}

    def _check(self) -> None:
        for asset, readings in self._readings.items():
            assert asset and readings
            for src, (price, ts) in readings.items():
                assert src and price > 0 and ts >= 0


def mark_text(mark: MarkPrice) -> str | None:
    return None if mark.price_units is None else str(to_decimal(mark.price_units))
