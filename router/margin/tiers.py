"""Margin requirements of a perpetual position: a venue's rule set as data.

Every rule set is a list of notional tiers; tier k covers notionals N >= F_k (F_0 = 0) and has an
initial rate i_k, a maintenance rate m_k and a maintenance deduction d_k:

    IM(N) = N x max(i_k, 1 / user leverage)        MM(N) = N x m_k - d_k

Three ways to write it, one per venue family (field names as in the account and market files):

- **max leverage** (Hyperliquid): ``max_leverage`` L, or tiers ``{notional_from, max_leverage}``:
  i_k = 1/L_k, m_k = 1/(2 L_k), and d_k = d_{k-1} + F_k (m_k - m_{k-1}), the one deduction that
  makes MM continuous at every F_k (MM_{k-1}(F_k) = MM_k(F_k)).
- **fractions** (dYdX v4): ``initial_margin_fraction`` IMF and ``maintenance_margin_fraction``
  MMF, one tier: i = IMF, m = MMF, d = 0; the max leverage is floor(1/IMF).
- **brackets** (Binance USD-M): tiers ``{notional_from, max_leverage, maintenance_margin_rate,
  maintenance_amount}``: i_k = 1/L_k, m_k = the rate, d_k = the amount, which must be the
  continuous one above (Binance publishes its "cum" amounts exactly so); a bracket table that
  jumps at a boundary is refused.

Refused: an unsorted or non-increasing ``notional_from``, a first tier not at 0, leverage rising
with notional, negative or zero fractions, a maintenance rate above the initial one (MM > IM),
maintenance rates falling with notional, discontinuous amounts. Notionals come in as exact
products ``size_units * price_units`` (1e-36 quote); results are ledger units (1e-18 quote) rounded
up, against the account. Rates and deductions are exact fractions and all arithmetic is integer.
O(tiers) per call (a handful).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from router.margin.errors import MarginInputError
from router.margin.quantities import SCALE, ceil_div, parse_int, parse_units, to_decimal, to_text

MAX_LEVERAGE_CAP = 200
FRACTION_SCALE = 10**8  # fractions and rates are read on the 1e-8 grid
LEVERAGE, FRACTIONS, BRACKETS = "max_leverage", "fractions", "brackets"
TIER_KEYS = ("notional_from", "max_leverage", "maintenance_margin_rate", "maintenance_amount")


@dataclass(frozen=True, slots=True)
class Tier:
    """One notional tier from ``notional_from_units`` (1e-8 quote) up: initial and maintenance
    rates and the maintenance deduction (ledger units), exact."""

    notional_from_units: int
    max_leverage: int
    initial_rate: Fraction
    maintenance_rate: Fraction
    deduction: Fraction


def _fraction(field: str, value: Any, *, maximum: int = FRACTION_SCALE) -> Fraction:
    units = parse_units(field, value, positive=True, maximum=maximum, scale=FRACTION_SCALE)
    return Fraction(units, FRACTION_SCALE)


class TierSchedule:
    """An immutable, validated rule set (see the module docstring)."""

    __slots__ = ("_from16", "_im", "_mm", "kind", "tiers")

    def __init__(self, tiers: Any) -> None:
        """``tiers``: a non-empty sequence of (notional_from, max_leverage) pairs or mappings with
        the keys of :data:`TIER_KEYS` (the last two on every tier or on none)."""
        if not isinstance(tiers, (list, tuple)) or not tiers:
            raise MarginInputError(
                "tiers", tiers, "a non-empty list of {notional_from, max_leverage}"
            )
        rows: list[tuple[int, int, tuple[Fraction, Fraction] | None]] = []
        for i, raw in enumerate(tiers):
            bracket: tuple[Fraction, Fraction] | None = None
            if isinstance(raw, dict):
                unknown = sorted(set(raw) - set(TIER_KEYS))
                if unknown or "max_leverage" not in raw:
                    raise MarginInputError(
                        f"tiers[{i}]", raw, f"a table with max_leverage and keys {TIER_KEYS}"
                    )
                frm, lev = raw.get("notional_from", "0"), raw["max_leverage"]
                if ("maintenance_margin_rate" in raw) != ("maintenance_amount" in raw):
                    raise MarginInputError(
                        f"tiers[{i}]",
                        raw,
                        "maintenance_margin_rate and maintenance_amount together",
                    )
                if "maintenance_margin_rate" in raw:
                    bracket = (
                        _fraction(
                            f"tiers[{i}].maintenance_margin_rate", raw["maintenance_margin_rate"]
                        ),
                        Fraction(
                            parse_units(
                                f"tiers[{i}].maintenance_amount",
                                raw["maintenance_amount"],
                                minimum=0,
                            )
                        ),
                    )
            elif isinstance(raw, (list, tuple)) and len(raw) == 2:
                frm, lev = raw
            else:
                raise MarginInputError(f"tiers[{i}]", raw, "a (notional_from, max_leverage) pair")
            frm_units = parse_units(f"tiers[{i}].notional_from", frm, minimum=0)
            lev_int = parse_int(
                f"tiers[{i}].max_leverage", lev, minimum=1, maximum=MAX_LEVERAGE_CAP
            )
            if i == 0 and frm_units != 0:
                raise MarginInputError(
                    "tiers[0].notional_from", frm, "0 (the first tier starts at zero)"
                )
            if rows and frm_units <= rows[-1][0]:
                raise MarginInputError(
                    f"tiers[{i}].notional_from",
                    frm,
                    f"> {to_decimal(rows[-1][0])} (sorted, strictly increasing)",
                )
            if rows and lev_int > rows[-1][1]:
                raise MarginInputError(
                    f"tiers[{i}].max_leverage", lev, f"<= {rows[-1][1]} (non-increasing)"
                )
            if rows and (bracket is None) != (rows[-1][2] is None):
                raise MarginInputError(
                    f"tiers[{i}]", raw, "maintenance_margin_rate on every tier or on none"
                )
            rows.append((frm_units, lev_int, bracket))
        kind = LEVERAGE if rows[0][2] is None else BRACKETS
        self._build(kind, [(f, lev, Fraction(1, lev), b) for f, lev, b in rows])

    @classmethod
    def single(cls, max_leverage: Any) -> TierSchedule:
        return cls([("0", max_leverage)])

    @classmethod
    def fractions(
        cls, initial_margin_fraction: Any, maintenance_margin_fraction: Any
    ) -> TierSchedule:
        """dYdX v4 style: IM = N x IMF, MM = N x MMF with 0 < MMF <= IMF <= 1."""
        imf = _fraction("initial_margin_fraction", initial_margin_fraction)
        mmf = _fraction("maintenance_margin_fraction", maintenance_margin_fraction)
        if mmf > imf:
            raise MarginInputError(
                "maintenance_margin_fraction",
                maintenance_margin_fraction,
                f"a fraction in (0, {initial_margin_fraction}] (maintenance <= initial)",
            )
        leverage = min(MAX_LEVERAGE_CAP, max(1, int(1 / imf)))
        schedule = cls.__new__(cls)
        schedule._build(FRACTIONS, [(0, leverage, imf, (mmf, Fraction(0)))])
        return schedule

    def _build(
        self,
        kind: str,
        rows: list[tuple[int, int, Fraction, tuple[Fraction, Fraction] | None]],
    ) -> None:
        built: list[Tier] = []
        for i, (frm, lev, initial, maintenance) in enumerate(rows):
            if maintenance is None:  # max leverage: m = 1/(2L), continuous deduction
                rate = Fraction(1, 2 * lev)
                deduction = (
                    Fraction(0)
                    if not built
                    else built[-1].deduction + frm * (rate - built[-1].maintenance_rate)
                )
            else:
                rate, deduction = maintenance
                where = "maintenance_margin_fraction" if kind == FRACTIONS else f"tiers[{i}]"
                if rate > initial:
                    raise MarginInputError(
                        f"{where}.maintenance_margin_rate" if kind == BRACKETS else where,
                        str(rate),
                        f"<= the initial rate 1/{lev} (maintenance above initial)",
                    )
                if built and rate < built[-1].maintenance_rate:
                    raise MarginInputError(
                        f"tiers[{i}].maintenance_margin_rate",
                        str(rate),
                        f">= {built[-1].maintenance_rate} (non-decreasing)",
                    )
                expected = (
                    Fraction(0)
                    if not built
                    else built[-1].deduction + frm * (rate - built[-1].maintenance_rate)
                )
                if deduction != expected:
                    raise MarginInputError(
                        f"tiers[{i}].maintenance_amount",
                        str(to_decimal(int(deduction))),
                        f"{to_decimal(ceil_div(expected.numerator, expected.denominator))} "
                        "(continuous at notional_from: previous amount + notional_from x "
                        "rate increase)",
                    )
            built.append(Tier(frm, lev, initial, rate, deduction))
        self.kind = kind
        self.tiers = tuple(built)
        self._from16 = tuple(t.notional_from_units * SCALE for t in built)
        # integer forms for the hot path: (num, den) of i_k; MM = ceil((N16 a - b) / c)
        self._im = tuple((t.initial_rate.numerator, t.initial_rate.denominator) for t in built)
        self._mm = tuple(
            (
                t.maintenance_rate.numerator * t.deduction.denominator,
                t.deduction.numerator * t.maintenance_rate.denominator * SCALE,
                SCALE * t.maintenance_rate.denominator * t.deduction.denominator,
            )
            for t in built
        )

    @property
    def max_leverage(self) -> int:
        """The highest leverage any position may use (the first tier's)."""
        return self.tiers[0].max_leverage

    @property
    def deductions(self) -> tuple[Fraction, ...]:
        return tuple(t.deduction for t in self.tiers)

    def tier_index(self, notional16: int) -> int:
        """Index of the tier covering an exact notional in 1e-36 quote (SCALE**2)."""
        # the starts ascend (validated): the last start <= notional, else the first tier
        return max(bisect_right(self._from16, notional16) - 1, 0) if len(self._from16) > 1 else 0

    def initial_margin_units(self, notional16: int, user_leverage: int) -> int:
        """IM = N x max(i_k, 1/user leverage), ledger units rounded up."""
        num, den = self._im[self.tier_index(notional16)]
        if num * user_leverage < den:  # 1/user is the larger rate
            return ceil_div(notional16, SCALE * user_leverage)
        return ceil_div(notional16 * num, SCALE * den)

    def maintenance_margin_exact(self, notional16: int) -> Fraction:
        """MM in ledger units as an exact fraction (before rounding)."""
        tier = self.tiers[self.tier_index(notional16)]
        return Fraction(notional16, SCALE) * tier.maintenance_rate - tier.deduction

    def maintenance_margin_units(self, notional16: int) -> int:
        """MM = N x m_k - d_k, ledger units rounded up; integer arithmetic only."""
        a, b, c = self._mm[self.tier_index(notional16)]
        return ceil_div(notional16 * a - b, c)

    def describe(self) -> list[dict[str, str]]:
        return [
            {
                "notional_from": str(to_decimal(t.notional_from_units)),
                "max_leverage": str(t.max_leverage),
                "initial_rate": str(t.initial_rate),
                "maintenance_rate": str(t.maintenance_rate),
                "deduction": str(t.deduction),
            }
            for t in self.tiers
        ]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TierSchedule) and self.tiers == other.tiers

    def __hash__(self) -> int:
        return hash(self.tiers)

    def __repr__(self) -> str:
        rows = [(to_text(t.notional_from_units), t.max_leverage) for t in self.tiers]
        return f"TierSchedule({self.kind}, {rows})"
