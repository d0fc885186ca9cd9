"""The replayed account at one moment as an account document (the `margin report` file's form).

``crossroute stress --fills ... --at TIME`` stresses the book as it stood at TIME: the replay runs
up to TIME (every event at or before it, and the funding settlements due by then), and the ledger
it leaves is written in the form the stress engine reads (router/margin/report.py): collateral,
collateral_weights (initial and maintenance, from the rules), marks, and every open position with
size, entry, mark, its market's tiers and oracle asset.

The document carries what the file format can: a position's unsettled funding is folded into the
quote collateral, and so is the rounding of its entry price to the 1e-8 display grid (the exact
cost is kept at 1e-36), rounded down to the ledger's 1e-18, so the document's cross equity is the
replay's equity to within one 1e-18 unit, never above it. What the format cannot carry: liability weights of spot borrows (the
file's assets get the ledger's default liability weights) and the rules' funding caps.
"""

from __future__ import annotations

from typing import Any

from router.config import MarginAssetConfig, MarginConfig, MarginMarketConfig, TierConfig
from router.margin.ledger import MarginLedger
from router.margin.quantities import SCALE, floor_div, to_text


def account_document(ledger: MarginLedger, sub_id: str, rules: MarginConfig) -> dict[str, Any]:
    """The account document of subaccount ``sub_id`` now. O(assets + positions x tiers)."""
    quote = ledger.quote_asset
    sub = ledger.subaccount(sub_id)
    specs = {spec.name: spec for spec in rules.markets}
    balances = dict(sub.balances)
    positions = []
    for name in sorted(sub.positions):
        pos = sub.positions[name]
        if not pos.size_units:
            continue
        spec = specs[name]
        entry = pos.entry_price
        entry_units = int(entry * SCALE)
        # the document's cost is size x entry; the difference from the exact cost, and the
        # unsettled funding, go to the quote collateral (rounded down: never more equity)
        doc_cost16 = pos.size_units * entry_units
        funding_units = sub.pos_vals[name][2]
        balances[quote] = (
            balances.get(quote, 0) + floor_div(doc_cost16 - pos.cost16, SCALE) + funding_units
        )
        row: dict[str, Any] = {
            "symbol": name,
            "size": to_text(pos.size_units),
            "entry": format(entry, "f"),
            "mark": to_text(ledger.mark_units(name)),
            **position_rules(spec),
        }
        if pos.mode == "isolated":
            row["mode"] = "isolated"
            row["isolated_margin"] = to_text(pos.isolated_margin_units)
        positions.append(row)
    assets = sorted(a for a in ledger.assets if a != quote)
    weights = {asset: _asset_terms(rules.asset(asset)) for asset in assets}
    return {
        "quote": quote,
        "collateral": {a: to_text(u) for a, u in sorted(balances.items()) if u},
        "collateral_weights": weights,
        "marks": {a: to_text(ledger.mark_units(a)) for a in assets},
        "positions": positions,
    }


def _asset_terms(rule: MarginAssetConfig) -> dict[str, str]:
    """An asset's weights and borrow terms under the account file's keys (unset ones left out,
    so the margin core's defaults apply as they did in the replay)."""
    terms = {
        "initial": rule.initial_weight,
        "maintenance": rule.maintenance_weight,
        "initial_liability": rule.initial_liability_weight,
        "maintenance_liability": rule.maintenance_liability_weight,
        "borrow_limit": rule.borrow_limit,
        "borrow_rate": rule.borrow_rate,
    }
    return {key: format(value, "f") for key, value in terms.items() if value is not None}


def _tier_doc(tier: TierConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "notional_from": format(tier.notional_from, "f"),
        "max_leverage": tier.max_leverage,
    }
    if tier.maintenance_margin_rate is not None and tier.maintenance_amount is not None:
        doc["maintenance_margin_rate"] = format(tier.maintenance_margin_rate, "f")
        doc["maintenance_amount"] = format(tier.maintenance_amount, "f")
    return doc


def position_rules(spec: MarginMarketConfig) -> dict[str, Any]:
    """A market's rules under the account file's position keys: oracle asset, rule set and
    funding terms (``crossroute margin report --rules`` gives them to positions of the market)."""
    return {
        "oracle_asset": spec.oracle,
        **_rule_set(spec),
        "funding_cap": format(spec.funding_cap, "f"),
        "funding_interest": format(spec.funding_interest, "f"),
        "funding_band": format(spec.funding_band, "f"),
        "funding_interval_hours": spec.funding_interval_hours,
    }


def _rule_set(spec: MarginMarketConfig) -> dict[str, Any]:
    """The market's rules as the replay's ledger holds them: its tiers (notional from, max
    leverage, and a Binance bracket's maintenance rate and amount), or dYdX's fractions when the
    rules give no tiers."""
    if spec.tiers:
        return {"tiers": [_tier_doc(t) for t in spec.tiers]}
    return {
        "initial_margin_fraction": format(spec.initial_margin_fraction, "f"),
        "maintenance_margin_fraction": format(spec.maintenance_margin_fraction, "f"),
    }
