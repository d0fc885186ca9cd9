"""The ``[protection]`` table: the default price protection of route, execute and paper, and the
one place its defaults live.

```toml
[protection]
band_bps = 100                 # a leg without a limit gets arrival mid +- this (1-10000)
unwind_band_bps = 100          # an unwind trades back no worse than arrival mid -+ this (0-10000),
                               #   for orders that do not set their own
max_fixed_cost_share = "0.01"  # fixed costs above this share of a leg's notional: refused
                               #   (execute, paper) or warned about (route), in [0, 1]
```

Every key is optional; a missing table is all defaults. Precedence: a command-line flag
(``--band-bps``, ``--max-fixed-cost-share``, ``--no-limit``) or the order's own setting, then this
table, then the defaults below. Unknown keys and bad values are ConfigErrors naming
``protection.<key>``, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from router.config.schema import Fields, Keys

__all__ = [
    "DEFAULT_BAND_BPS",
    "DEFAULT_MAX_FIXED_COST_SHARE",
    "DEFAULT_UNWIND_BAND_BPS",
    "MAX_BAND_BPS",
    "PROTECTION_KEYS",
    "ProtectionConfig",
    "parse_protection",
]

DEFAULT_BAND_BPS = 100
DEFAULT_UNWIND_BAND_BPS = 100
DEFAULT_MAX_FIXED_COST_SHARE = Decimal("0.01")
MAX_BAND_BPS = 10_000  # a band of 100% would allow a buy at twice the mid and a sell at zero

PROTECTION_KEYS = Keys((), ("band_bps", "unwind_band_bps", "max_fixed_cost_share"))


@dataclass(frozen=True, slots=True)
class ProtectionConfig:
    """The market's default price protection (see the module docstring); bps are integers, the
    share an exact Decimal."""

    band_bps: int = DEFAULT_BAND_BPS
    unwind_band_bps: int = DEFAULT_UNWIND_BAND_BPS
    max_fixed_cost_share: Decimal = DEFAULT_MAX_FIXED_COST_SHARE


def parse_protection(fields: Fields, raw: Any) -> ProtectionConfig:
    """The validated ``[protection]`` table; ConfigError naming the key otherwise. O(1)."""
    spec = fields.table("protection", raw, PROTECTION_KEYS)
    share = fields.decimal(
        "protection.max_fixed_cost_share",
        spec.get("max_fixed_cost_share", DEFAULT_MAX_FIXED_COST_SHARE),
        maximum=1,
        what=" in [0, 1]",
    )
    return ProtectionConfig(
        band_bps=fields.integer(
            "protection.band_bps", spec.get("band_bps", DEFAULT_BAND_BPS), 1, MAX_BAND_BPS
        ),
        unwind_band_bps=fields.integer(
            "protection.unwind_band_bps",
            spec.get("unwind_band_bps", DEFAULT_UNWIND_BAND_BPS),
            0,
            MAX_BAND_BPS,
        ),
        max_fixed_cost_share=share,
    )
