"""Cross-margin core: exact ledger, oracles, tiers, pre-trade checks, funding, liquidation, porting.

Pure and synchronous; imports neither venues nor adapters. See docs/margin.md.
"""

from router.margin.account import AssetConfig, PerpMarket, Position, RiskLimits, Subaccount
from router.margin.checks import CheckResult, LedgerLeg, SequenceResult
from router.margin.errors import (
    IsolatedBucketRejected,
    MarginError,
    MarginInputError,
    MarginRejected,
    OraclePriceError,
)
from router.margin.journal import Journal
from router.margin.ledger import MarginLedger
from router.margin.liquidation import LiquidationResult, LiquidationStep
from router.margin.oracle import MarkPrice, OracleBook
from router.margin.projection import Projection
from router.margin.swap import SpotSwap
from router.margin.tiers import TierSchedule

__all__ = [
    "AssetConfig",
    "CheckResult",
    "IsolatedBucketRejected",
    "Journal",
    "LedgerLeg",
    "LiquidationResult",
    "LiquidationStep",
    "MarginError",
    "MarginInputError",
    "MarginLedger",
    "MarginRejected",
    "MarkPrice",
    "OracleBook",
    "OraclePriceError",
    "PerpMarket",
    "Position",
    "Projection",
    "RiskLimits",
    "SequenceResult",
    "SpotSwap",
    "Subaccount",
    "TierSchedule",
]
