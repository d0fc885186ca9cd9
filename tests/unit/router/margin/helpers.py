from router.margin import LedgerLeg, MarginLedger


def btc_ledger(usdc: str = "10000") -> tuple[MarginLedger, str]:
    ledger = MarginLedger()
    ledger.add_asset("ETH", "0.9", "0.95")
    ledger.add_market("BTC-PERP", "BTC", max_leverage=40)
    ledger.add_market("ETH-PERP", "ETH", tiers=[("0", 25), ("1000000", 10), ("5000000", 5)])
    for name, price in (
        ("BTC-PERP", "100000"),
        ("BTC", "100000"),
        ("ETH-PERP", "3000"),
        ("ETH", "3000"),
    ):
        ledger.set_mark(name, price)
    sub = ledger.open_subaccount("desk", "main")
    ledger.deposit(sub, "USDC", usdc)
    return ledger, sub


def perp(side: str, size: str, price: str, symbol: str = "BTC-PERP", fee: str = "0") -> LedgerLeg:
    return LedgerLeg("perp", symbol, side, size, price, fee)
