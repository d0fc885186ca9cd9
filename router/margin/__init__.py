"""Cross-margin core: exact ledger, oracles, tiers, pre-trade checks, funding, liquidation, porting.

Pure and synchronous; imports neither venues nor adapters. See docs/margin.md.
"""

from router.margin import liquidation as _liquidation  # noqa: F401  (binds MarginLedger methods' modules)
from router.margin.account import AssetConfig, PerpMarket, Position, RiskLimits, Subaccount
from router.margin.checks import CheckResult, Leg, SequenceResult
from router.margin.errors import (
    IsolatedBucketRejected,
    MarginError,
    MarginInputError,
    MarginRejected,
    OraclePriceError,
)
from router.margin.journal import Journal
from router.margin.ledger import MarginLedger
from router.margin.oracle import MarkPrice, OracleBook
from router.margin.tiers import TierSchedule

__all__ = [
    "AssetConfig",
    "CheckResult",
    "IsolatedBucketRejected",
    "Journal",
    "Leg",
    "MarginError",
    "MarginInputError",
    "MarginLedger",
    "MarginRejected",
    "MarkPrice",
    "OracleBook",
    "OraclePriceError",
    "PerpMarket",
    "Position",
    "RiskLimits",
    "SequenceResult",
    "Subaccount",
    "TierSchedule",
]
