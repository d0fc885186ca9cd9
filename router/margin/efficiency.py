"""Capital efficiency as netting: the isolated requirement minus the cross requirement.

Every exposure of a subaccount (a perp position, a spot holding, a spot liability) belongs to an
underlying (a perp market's oracle asset; a spot asset itself) and has a signed notional n_e (size
x its own mark) and the initial requirement r_e it carries margined alone, from the ledger's own
figures: a perp's IM, a spot holding's haircut (notional - initial weighted value), a spot
liability's borrow IM.

- isolated requirement = sum of r_e: every exposure margined alone;
- cross requirement = per underlying, only the net exposure is margined, at the average rate of
  the exposures on the net's side: ceil(|N| x sum_side r_e / sum_side |n_e|), N = sum n_e.

So the saving (isolated - cross) is 0 for one exposure per underlying and for exposures all on
one side; it is >= 0 always (the net never exceeds its side's gross) and > 0 only when exposures
offset (a spot long hedged by a perp short). Collateral is not credited: holding ETH next to a
naked ETH perp long saves nothing. The quote balance carries no price risk and is not an exposure.
Integer ledger units, rounded up. O(positions + assets).
"""

from __future__ import annotations

from router.margin.book import MarginBook
from router.margin.quantities import ceil_div


def exposures(ledger: MarginBook, sub_id: str) -> dict[str, list[tuple[int, int]]]:
    """Underlying -> [(signed notional, requirement alone)] in ledger units, sorted by name."""
    sub = ledger.subaccount(sub_id)
    out: dict[str, list[tuple[int, int]]] = {}
    for asset in sorted(sub.balances):
        if asset == ledger.quote_asset:
            continue
        units = sub.balances[asset]
        init_value, _maint, gross, borrow_im, _borrow_mm = sub.asset_vals[asset]
        required = gross - init_value if units > 0 else borrow_im
        out.setdefault(asset, []).append((gross if units > 0 else -gross, required))
    for symbol in sorted(sub.positions):
        pos = sub.positions[symbol]
        figs = sub.pos_vals[symbol]
        underlying = ledger.markets[symbol].oracle_asset
        notional = figs[5] if pos.size_units > 0 else -figs[5]
        out.setdefault(underlying, []).append((notional, figs[3]))
    return out


def requirements(ledger: MarginBook, sub_id: str) -> tuple[int, int]:
    """(cross requirement, isolated requirement) of ``sub_id`` as defined above."""
    cross = isolated = 0
    for items in exposures(ledger, sub_id).values():
        isolated += sum(r for _, r in items)
        net = sum(n for n, _ in items)
        side = [(abs(n), r) for n, r in items if n and (n > 0) == (net > 0)]
        gross = sum(n for n, _ in side)
        if net and gross:
            cross += ceil_div(abs(net) * sum(r for _, r in side), gross)
    return cross, isolated
