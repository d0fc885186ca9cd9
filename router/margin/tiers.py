"""Margin requirements of a perpetual position by notional tier.

Tier k covers notionals N >= notional_from_k and has max leverage L_k (non-increasing in k).

- initial margin IM(N) = N / min(user leverage, L_k)
- maintenance MM(N) = N / (2 L_k) - d_k, with d_0 = 0 and
  d_k = d_{k-1} + F_k * (1/(2 L_k) - 1/(2 L_{k-1})),   F_k = notional_from_k,
  which is exactly the condition MM_{k-1}(F_k) = MM_k(F_k): MM is continuous and piecewise
  linear in N, and non-decreasing because 1/(2 L_k) >= 1/(2 L_{k-1}) (Hyperliquid's scheme).

Notionals come in as exact products ``size_units * price_units`` (1e-16 quote); results are
ledger units (1e-8 quote) rounded up, against the account. Deductions are kept as exact
fractions so that no rounding happens before the final ceiling. O(tiers) per call (a handful).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from router.margin.errors import MarginInputError
from router.margin.quantities import SCALE, ceil_div, parse_int, parse_units, to_decimal

MAX_LEVERAGE_CAP = 200


@dataclass(frozen=True, slots=True)
class Tier:
    """One notional tier: applies from ``notional_from_units`` (1e-8 quote) up, at ``max_leverage``."""

    notional_from_units: int
    max_leverage: int


class TierSchedule:
    """An immutable, validated tier table with its continuity deductions."""

    __slots__ = ("_from16", "deductions", "tiers")

    def __init__(self, tiers: Any) -> None:
        """``tiers``: a non-empty sequence of (notional_from, max_leverage) pairs or mappings with
        those keys; first notional_from is 0, notional_from strictly increasing, leverage an
        integer in [1, 200] and non-increasing."""
        if not isinstance(tiers, (list, tuple)) or not tiers:
            raise MarginInputError(
                "tiers", tiers, "a non-empty list of {notional_from, max_leverage}"
            )
        parsed: list[Tier] = []
        for i, raw in enumerate(tiers):
            if isinstance(raw, Tier):
                frm, lev = to_decimal(raw.notional_from_units), raw.max_leverage
            elif isinstance(raw, dict):
                unknown = set(raw) - {"notional_from", "max_leverage"}
                if unknown or "max_leverage" not in raw:
                    raise MarginInputError(
                        f"tiers[{i}]", raw, "keys notional_from and max_leverage"
                    )
                frm, lev = raw.get("notional_from", "0"), raw["max_leverage"]
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
            if parsed and frm_units <= parsed[-1].notional_from_units:
                raise MarginInputError(
                    f"tiers[{i}].notional_from",
                    frm,
                    f"> {to_decimal(parsed[-1].notional_from_units)} (strictly increasing)",
                )
            if parsed and lev_int > parsed[-1].max_leverage:
                raise MarginInputError(
                    f"tiers[{i}].max_leverage",
                    lev,
                    f"<= {parsed[-1].max_leverage} (non-increasing)",
                )
            parsed.append(Tier(frm_units, lev_int))
        deductions = [Fraction(0)]
        for prev, cur in zip(parsed, parsed[1:]):
            deductions.append(
                deductions[-1]
                + cur.notional_from_units
                * (Fraction(1, 2 * cur.max_leverage) - Fraction(1, 2 * prev.max_leverage))
            )
        self.tiers = tuple(parsed)
        self.deductions = tuple(deductions)
        self._from16 = tuple(t.notional_from_units * SCALE for t in parsed)

    @classmethod
    def single(cls, max_leverage: Any) -> TierSchedule:
        return cls([("0", max_leverage)])

    @property
    def max_leverage(self) -> int:
        """The highest leverage any position may use (the first tier's)."""
        return self.tiers[0].max_leverage

    def tier_index(self, notional16: int) -> int:
        """Index of the tier covering an exact notional in 1e-16 quote."""
        k = 0
        for i, start in enumerate(self._from16):
            if notional16 >= start:
                k = i
        return k

    def initial_margin_units(self, notional16: int, user_leverage: int) -> int:
        """IM = N / min(user, tier leverage), ledger units rounded up."""
        lev = min(user_leverage, self.tiers[self.tier_index(notional16)].max_leverage)
        return ceil_div(notional16, SCALE * lev)

    def maintenance_margin_exact(self, notional16: int) -> Fraction:
        """MM in ledger units as an exact fraction (before rounding)."""
        k = self.tier_index(notional16)
        return Fraction(notional16, SCALE * 2 * self.tiers[k].max_leverage) - self.deductions[k]

    def maintenance_margin_units(self, notional16: int) -> int:
        """MM = N / (2 L_k) - d_k, ledger units rounded up; integer arithmetic only."""
        k = self.tier_index(notional16)
        d = self.deductions[k]
        two_l = 2 * self.tiers[k].max_leverage
        den = SCALE * two_l * d.denominator
        return ceil_div(notional16 * d.denominator - d.numerator * SCALE * two_l, den)

    def describe(self) -> list[dict[str, str]]:
        return [
            {
                "notional_from": str(to_decimal(t.notional_from_units)),
                "max_leverage": str(t.max_leverage),
                "deduction": str(d),
            }
            for t, d in zip(self.tiers, self.deductions)
        ]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TierSchedule) and self.tiers == other.tiers

    def __hash__(self) -> int:
        return hash(self.tiers)

    def __repr__(self) -> str:
        return f"TierSchedule({[(str(to_decimal(t.notional_from_units)), t.max_leverage) for t in self.tiers]})"
