"""The executor's margin gate books a hop on a pair not quoted in the margin asset as the
two-asset swap it is, rounded against the account to the ledger quantum."""

from decimal import Decimal

from router.execution.gate import MarginLeg
from router.execution.margin_gate import LedgerGate
from router.margin import MarginLedger
from router.margin.quantities import QUANTUM


def gate() -> tuple[LedgerGate, MarginLedger, str]:
    ledger = MarginLedger()
    ledger.add_asset("ETH", "0.9", "0.95")
    ledger.add_asset("USDT", "0.98", "0.99")
    ledger.set_mark("ETH", "3000")
    ledger.set_mark("USDT", "0.9998")
    sub = ledger.open_subaccount("desk", "main")
    ledger.deposit(sub, "USDC", "10000")
    ledger.deposit(sub, "ETH", "2")
    return LedgerGate(ledger, sub), ledger, sub


def test_a_usdt_quoted_fill_books_usdt_rounded_against_the_account() -> None:
    g, ledger, sub = gate()
    # sell 1.5 ETH (plus dust finer than the ledger's quantum) for USDT with dust too
    dust = QUANTUM / 3
    fill = MarginLeg("spot", "ETH/USDT", "sell", Decimal("1.5") + dust, Decimal("4495.5") + dust)
    assert g.check([fill]).accepted
    g.apply(fill)
    assert ledger.balance(sub, "ETH") == Decimal("0.5") - QUANTUM  # given: rounded up
    assert ledger.balance(sub, "USDT") == Decimal("4495.5")  # received: rounded down
    assert ledger.balance(sub, "USDC") == Decimal("10000")  # the margin asset is untouched
    ledger._check()


def test_a_usdc_usdt_hop_is_a_swap_not_a_refused_spot_leg() -> None:
    g, ledger, sub = gate()
    # buy 1,000 USDC with 1,000.2 USDT we do not hold: a USDT borrow, within headroom
    fill = MarginLeg("spot", "USDC/USDT", "buy", Decimal(1000), Decimal("1000.2"))
    check = g.check([fill])
    assert check.accepted, check.reason
    g.apply(fill)
    assert ledger.balance(sub, "USDC") == Decimal(11000)
    assert ledger.balance(sub, "USDT") == Decimal("-1000.2")
    # the maintenance what-if books the pending hop the same way
    pending = MarginLeg("spot", "ETH/USDT", "buy", Decimal(1), Decimal(3000))
    maint = g.maintenance([pending])
    assert maint.excess_with_pending < maint.excess
    ledger._check()
