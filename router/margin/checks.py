"""Pre-trade legs, check results, and the search for a leg order that keeps headroom >= 0.

A leg is filled, for checking, at its worst allowed price with its fee. The search is generic: it
receives ``step(state, leg_index) -> (new_state, CheckResult)`` from the ledger, so it never sees
balances itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.margin.errors import MarginInputError
from router.margin.quantities import parse_name, parse_units

SPOT, PERP = "spot", "perp"
KINDS = (SPOT, PERP)
SIDES = ("buy", "sell")
MAX_EXACT_LEGS = 10  # 2**10 subsets: exhaustive search stays a few milliseconds


@dataclass(frozen=True)
class LedgerLeg:
    """One proposed leg: ``kind`` spot|perp, ``symbol`` (asset for spot, market for perp), ``side``
    buy|sell, ``size`` (> 0, base units), ``worst_price`` (> 0, quote per base), ``fee`` (>= 0,
    quote). ``isolated_margin`` (quote) opens a perp position isolated with that margin.
    Decimal strings, ints or Decimals; floats are refused. Validated on construction."""

    kind: str
    symbol: str
    side: str
    size: Any
    worst_price: Any
    fee: Any = "0"
    isolated_margin: Any = None
    # parsed (size, worst price, fee, isolated margin) in ledger units, set once on construction
    _units: tuple[int, int, int, int | None] = field(
        init=False, repr=False, compare=False, default=(0, 0, 0, None)
    )

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MarginInputError("kind", self.kind, "spot or perp")
        parse_name("symbol", self.symbol)
        if self.side not in SIDES:
            raise MarginInputError("side", self.side, "buy or sell")
        units: tuple[int, int, int, int | None] = (
            parse_units("size", self.size, positive=True),
            parse_units("worst_price", self.worst_price, positive=True),
            parse_units("fee", self.fee, minimum=0),
            None
            if self.isolated_margin is None
            else parse_units("isolated_margin", self.isolated_margin, minimum=0),
        )
        if units[3] is not None and self.kind != PERP:
            raise MarginInputError("isolated_margin", self.isolated_margin, "only on perp legs")
        object.__setattr__(self, "_units", units)

    @property
    def size_units(self) -> int:
        return self._units[0]

    @property
    def price_units(self) -> int:
        return self._units[1]

    @property
    def fee_units(self) -> int:
        return self._units[2]

    @property
    def isolated_margin_units(self) -> int | None:
        return self._units[3]

    @property
    def signed_units(self) -> int:
        return self.size_units if self.side == "buy" else -self.size_units

    def to_json(self) -> dict[str, str]:
        out = {
            "kind": self.kind,
            "symbol": self.symbol,
            "side": self.side,
            "size": str(self.size),
            "worst_price": str(self.worst_price),
            "fee": str(self.fee),
        }
        if self.isolated_margin is not None:
            out["isolated_margin"] = str(self.isolated_margin)
        return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The answer for one leg: accepted or the failed ``limit`` with its numbers (quote units
    unless ``asset`` says otherwise): ``required`` vs ``available`` and ``shortfall`` = by how much."""

    accepted: bool
    headroom_before: Decimal
    headroom_after: Decimal
    risk_increasing: bool
    limit: str | None = None
    asset: str | None = None
    required: Decimal | None = None
    available: Decimal | None = None
    shortfall: Decimal | None = None
    leg_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            k: (None if v is None else (format(v, "f") if isinstance(v, Decimal) else v))
            for k, v in ((f, getattr(self, f)) for f in self.__slots__)
        }


@dataclass(frozen=True, slots=True)
class SequenceResult:
    """The answer for several legs: ``order`` (indices into the given legs) whose every prefix
    passes, ``reordered`` when it differs from the given order, ``steps`` the per-prefix results
    of that order, ``given_failure`` the first failing prefix of the given order (or None)."""

    accepted: bool
    order: tuple[int, ...]
    reordered: bool
    steps: tuple[CheckResult, ...]
    given_failure: CheckResult | None
    exhaustive: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "order": list(self.order),
            "reordered": self.reordered,
            "exhaustive": self.exhaustive,
            "steps": [s.to_json() for s in self.steps],
            "given_failure": None if self.given_failure is None else self.given_failure.to_json(),
        }


Step = Callable[[Any, int], tuple[Any, CheckResult]]


def run_order(
    state: Any, order: tuple[int, ...], step: Step
) -> tuple[Any, list[CheckResult], CheckResult | None]:
    """Apply legs in ``order``; stop at the first failing prefix. O(n) steps."""
    results: list[CheckResult] = []
    for i in order:
        new_state, result = step(state, i)
        if not result.accepted:
            return state, results, result
        results.append(result)
        state = new_state
    return state, results, None


def search_order(state: Any, n: int, step: Step) -> tuple[tuple[int, ...] | None, bool]:
    """Find a leg order whose every prefix passes, or None.

    Depth-first over legs, trying at each depth risk-reducing legs first and then the leg that
    leaves the most headroom (greedy), backtracking on failure. The state after a set of legs
    does not depend on their order (fills at worst prices; sizes and cash add up) except for
    1e-18 rounding, so a set that failed is not explored again: at most 2**n states, exact for
    n <= MAX_EXACT_LEGS. Beyond that the search is greedy without memo limits and may miss an
    order (``exhaustive`` is False). The found order is replayed by the caller.
    """
    exhaustive = n <= MAX_EXACT_LEGS
    dead: set[int] = set()
    budget = [4096 if not exhaustive else 1 << 30]

    def dfs(st: Any, done: int, path: list[int]) -> list[int] | None:
        if len(path) == n:
            return path
        if done in dead or budget[0] <= 0:
            return None
        budget[0] -= 1
        options = []
        for i in range(n):
            if done >> i & 1:
                continue
            new_state, result = step(st, i)
            if result.accepted:
                options.append((result.risk_increasing, -result.headroom_after, i, new_state))
        options.sort(key=lambda o: (o[0], o[1], o[2]))
        for _, _, i, new_state in options:
            found = dfs(new_state, done | (1 << i), path + [i])
            if found is not None:
                return found
        dead.add(done)
        return None

    found = dfs(state, 0, [])
    return (None if found is None else tuple(found)), exhaustive
