"""The paper desk's liquidation path: the margin core's loop, each step routed through the paper
venues at the prices they show and recorded as the venues' fills (role ``liquidation``)."""

from __future__ import annotations

from decimal import Decimal

from router.margin.quantities import SCALE, to_decimal
from router.paper.service import PaperService

CONFIG = "config/default.toml"


async def _leveraged_service() -> PaperService:
    """A paper service whose desk-a/lev holds an 8 ETH perp long on 1,500 USDC."""
    service = PaperService(CONFIG)
    await service.open()
    await service.command("subaccount", {"account": "desk-a", "name": "lev"})
    move = {"account": "desk-a", "from": "main", "to": "lev", "asset": "USDC", "amount": "1500"}
    await service.command("transfer", move)
    order = {
        "client_id": "lev-1",
        "account": "desk-a",
        "subaccount": "lev",
        "symbol": "ETH/USDC:USDC",
        "side": "buy",
        "qty": "8",
    }
    assert (await service.command("order", order))["status"] == "filled"
    return service


async def test_a_due_liquidation_sells_on_the_perp_book_and_records_its_fills():
    service = await _leveraged_service()
    ledger = service.ledger
    assert await service.desk.liquidate_due() == []  # nothing due: nothing happens
    ledger.set_mark("ETH-PERP", "2400")  # the oracle fell; the book still bids near 2,684
    assert "desk-a/lev" in ledger.liquidatable()
    service.outbox.clear()
    (result,) = await service.desk.liquidate_due()
    ledger._check()
    assert result.subaccount == "desk-a/lev" and result.steps
    fills = service.outbox.fills
    assert fills and {f["role"] for f in fills} == {"liquidation"}
    assert {f["venue"] for f in fills} == {"perp-book"}
    sold = sum(Decimal(f["qty"]) for f in fills)
    assert sold == to_decimal(-sum(s.closed_units for s in result.steps))
    for step in result.steps:  # booked at the venue's price, not at the 2,400 mark
        assert step.mark_units == 2400 * SCALE and step.price_units > 2600 * SCALE
    assert result.ended in ("above_maintenance", "flat")
    assert "desk-a/lev" not in ledger.liquidatable()
    service.desk.check()
    service.close()


async def test_marks_are_refreshed_from_the_venues_between_liquidation_steps():
    """The service passes the simulator's perp marks to the desk: after each fill the next step
    is decided at the venues' median mid as the liquidation left it, not at the mark before."""
    service = await _leveraged_service()
    ledger = service.ledger
    ledger.set_mark("ETH-PERP", "2400")  # a stale low mark: the books bid near 2,684
    (result,) = await service.desk.liquidate_due(service.sim.update_perp_marks)
    assert result.steps[0].mark_units == 2400 * SCALE  # decided at the mark it found
    median = service.market.median_mid("ETH/USDC:USDC")
    assert ledger.mark_units("ETH-PERP") == int(Decimal(median) * SCALE) != 2400 * SCALE
    assert result.ended in ("above_maintenance", "flat")
    ledger._check()
    service.close()
