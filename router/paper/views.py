"""Read-only views of the paper service: accounts, values and PnL, the market's depth, quotes.

Values are exact integers of 1e-18 quote (the ledger's grid) shown as decimal strings rounded
down to 1e-8 (:func:`value_text`, the display precision, against the account); depth views
are display figures of the float depth model (marked as such), never amounts anyone is charged.
The PnL samples and the starting values are the views' only state (:class:`ValueState`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.execution.gate import MarginLeg
from router.execution.margin_gate import LedgerGate
from router.margin.quantities import DISPLAY_UNITS, SCALE
from router.margin.report import margin_report
from router.model.errors import CrossrouteError, RouteError
from router.paper.errors import PaperError
from router.paper.market import PRICE_SCALE, price_text
from router.paper.requests import MultiHopQuoteRequest, QuoteRequest
from router.plan import fmt_qty, plan_route
from router.protection import fixed_cost_finding, protect

__all__ = ["PNL_POINTS", "AccountViews", "ValueState", "value_text"]

PNL_POINTS = 2000  # samples kept per account (every pnl_every_ticks ticks)
_MARGIN_KEYS = ("equity", "maintenance_equity", "initial_margin", "maintenance_margin", "headroom")


def value_text(units: int) -> str:
    """A value or PnL in ledger units (1e-18 quote) shown on the 1e-8 display grid, rounded down
    (against the account, as the ledger rounds equity). Exact."""
    return price_text(units // DISPLAY_UNITS)


def _price_text(price: float) -> str:
    """A depth chart's sample price with about six significant digits, at least two decimals
    (2683.41, 1.00051, 0.0361842): "1.00" for every sample of a USDC/USDT band would put the whole
    0.5% band on one point. Display only."""
    places = max(2, 5 - math.floor(math.log10(price))) if price > 0 else 2
    return f"{price:.{places}f}"


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass(slots=True)
class ValueState:
    """Each account's value when the service started and its PnL samples (t_ns, PnL text)."""

    start_value: dict[str, int] = field(default_factory=dict)
    pnl: dict[str, deque[tuple[int, str]]] = field(default_factory=dict)


class AccountViews:
    """Views over the market, the ledger and the simulator (all read-only but :meth:`sample_pnl`)."""

    def __init__(self, market: Any, ledger: Any, sim: Any, perp_markets: dict[str, str]) -> None:
        self.market = market
        self.ledger = ledger
        self.sim = sim
        self.perp_markets = perp_markets
        self.state = ValueState()
        for account in self.accounts():
            self.state.start_value[account] = self.account_value(account)
            self.state.pnl[account] = deque(maxlen=PNL_POINTS)

    def accounts(self) -> list[str]:
        return sorted(self.ledger.accounts)

    # -- values ----------------------------------------------------------------------------------

    def sub_value_units(self, sub_id: str) -> int:
        """Mark-to-market value in quote ledger units (1e-18): balances at mark (no haircut) plus unrealised
        PnL and unsettled funding; rounded down (against the account), like the ledger's equity."""
        sub = self.ledger.subs[sub_id]
        quote = self.ledger.quote_asset
        total = 0
        for asset, units in sub.balances.items():
            if asset == quote:
                total += units
            else:
                total += (units * self.ledger.marks[asset].price_units) // SCALE
        for figures in sub.pos_vals.values():
            total += figures[1] + figures[2]  # the ledger's cached upnl and funding (rounded down)
        return total

    def account_value(self, account: str) -> int:
        return sum(
            self.sub_value_units(f"{account}/{name}")
            for name in self.ledger.accounts[account].subaccounts
        )

    def pnl_units(self, account: str) -> int:
        value = self.account_value(account)
        return value - self.state.start_value.get(account, value)

    def sample_pnl(self) -> None:
        for account in self.accounts():
            self.state.pnl.setdefault(account, deque(maxlen=PNL_POINTS)).append(
                (self.sim.t_ns, value_text(self.pnl_units(account)))
            )

    # -- accounts --------------------------------------------------------------------------------

    def subaccount_view(self, sub_id: str) -> dict[str, Any]:
        """Balances, positions (with liquidation prices), margin and value of one subaccount."""
        report = margin_report(self.ledger, sub_id)
        sub = self.ledger.subs[sub_id]
        return {
            "id": sub_id,
            "name": sub_id.split("/", 1)[1],
            "balances": {
                asset: _dec(self.ledger.balance(sub_id, asset)) for asset in sorted(sub.balances)
            },
            "positions": report["positions"],
            "margin": {k: report[k] for k in _MARGIN_KEYS},
            "capital_efficiency": report["capital_efficiency"],
            "value": value_text(self.sub_value_units(sub_id)),
            "liquidatable": sub_id in self.ledger.liquidatable(),
        }

    def account_view(self, account: str, open_orders: list[str]) -> dict[str, Any]:
        if account not in self.ledger.accounts:
            raise PaperError(404, "account", account, f"one of {', '.join(self.accounts())}")
        subs = [
            self.subaccount_view(f"{account}/{name}")
            for name in sorted(self.ledger.accounts[account].subaccounts)
        ]
        value = self.account_value(account)
        return {
            "account": account,
            "subaccounts": subs,
            "value": value_text(value),
            "pnl": value_text(value - self.state.start_value.get(account, value)),
            "open_orders": open_orders,
        }

    def margin_event(self, sub_id: str) -> dict[str, Any]:
        return {
            "type": "account",
            "subaccount": sub_id,
            "margin": self.subaccount_view(sub_id)["margin"],
        }

    # -- market ----------------------------------------------------------------------------------

    def market_view(self, points: int = 24) -> dict[str, Any]:
        """Each venue's depth and the unified depth per symbol, as cumulative base at all-in prices
        (fees inside) sampled from the mid to 0.5% away. Display figures: 8-decimal strings of the
        float depth model, not amounts anyone is charged."""
        venues = []
        unified: dict[str, dict[str, list]] = {}
        for name, adapter in self.market.adapters.items():
            symbol = adapter.symbol
            mid = adapter.mid_price()
            center = float(self.sim.center_e8(symbol)) / PRICE_SCALE
            view = {
                "venue": name,
                "symbol": symbol,
                "instrument": self.market.instruments()[name],
                "kind": "orderbook" if hasattr(adapter, "book") else "pool",
                "mid": None if mid is None else _dec(mid.quantize(Decimal("1e-8"))),
                "bids": [],
                "asks": [],
            }
            for side, key, sign in (("sell", "bids", -1), ("buy", "asks", 1)):
                try:
                    curve = adapter.depth_curve(side)
                except CrossrouteError:
                    continue
                slot = unified.setdefault(
                    symbol,
                    {
                        k: [
                            [_price_text(center * (1 + s * 0.005 * j / points)), 0.0]
                            for j in range(1, points + 1)
                        ]
                        for k, s in (("bids", -1), ("asks", 1))
                    },
                )
                for k in range(1, points + 1):
                    price = center * (1 + sign * 0.005 * k / points)
                    qty = curve.qty_at_price(price)
                    view[key].append([_price_text(price), f"{qty:.6f}"])
                    slot[key][k - 1][1] += qty
            venues.append(view)
        return {
            "tick": self.sim.tick,
            "t_ns": self.sim.t_ns,
            "refs": {s: price_text(p) for s, p in sorted(self.sim.refs.items())},
            "venues": venues,
            "unified": [
                {
                    "symbol": s,
                    "bids": [[p, f"{q:.6f}"] for p, q in d["bids"]],
                    "asks": [[p, f"{q:.6f}"] for p, q in d["asks"]],
                }
                for s, d in unified.items()
            ],
        }

    def quote(self, request: QuoteRequest) -> dict[str, Any]:
        """A routed quote (read-only): the splitter's plan with exact re-quotes under the order's
        price protection (its limit, else the default band around the arrival mid unless
        ``no_limit``), the same as ``crossroute route --json`` for the same order on the same
        market state: ``protection`` and ``warnings`` included. With an account
        (``request.sub_id``) it adds ``preview``: each leg's fee and fixed cost (the exact
        re-quotes' own figures), the gain over the best single venue in quote units, and the
        margin headroom before and after the whole order, checked by the ledger on a scratch copy
        (a preview changes nothing, not even the journal)."""
        try:
            protection = protect(
                request.adapters, request.side, limit_price=request.limit, no_limit=request.no_limit
            )
            plan = plan_route(
                request.adapters,
                request.symbol,
                request.side,
                request.qty,
                quote_qty=request.quote_qty,
                limit_price=protection.limit_price,
            )
        except RouteError as exc:
            raise PaperError(
                400,
                str(exc.details.get("field", "qty")),
                exc.details.get("value"),
                str(exc.details.get("allowed", exc)),
                message=str(exc),
            ) from None
        finding = fixed_cost_finding(plan.legs, plan.side)
        doc = {
            **plan.to_json_dict(),
            "protection": protection.to_json_dict(),
            "warnings": [] if finding is None else [finding],
        }
        if request.sub_id is not None:
            doc["preview"] = self._preview(request, plan)
        return doc

    def multihop(self, request: MultiHopQuoteRequest) -> dict[str, Any]:
        """A conversion's multi-hop plan (read-only): its paths and hops with exact re-quotes over
        the market's spot venues (a perpetual converts nothing), the same as ``crossroute route
        --from A --to B --json`` on the same market state."""
        try:
            plan = self.market.plan_conversion(
                request.source,
                request.target,
                amount_in=request.amount_in,
                amount_out=request.amount_out,
                max_hops=request.max_hops,
            )
        except RouteError as exc:
            raise PaperError(
                400,
                str(exc.details.get("field", "qty")),
                exc.details.get("value"),
                str(exc.details.get("allowed", exc)),
                message=str(exc),
            ) from None
        return plan.to_json_dict()

    def _preview(self, request: QuoteRequest, plan: Any) -> dict[str, Any]:
        instruments = self.market.instruments()
        legs = [
            {
                "venue": leg.venue,
                "instrument": instruments[leg.venue],
                "qty": fmt_qty(leg.qty),
                "quote_amount": _dec(leg.quote_amount),
                "fee": _dec(leg.fee),
                "leg_cost": _dec(leg.leg_cost),
            }
            for leg in plan.legs
        ]
        best = plan.best_single_venue
        gain = None
        if best is not None and plan.complete:
            sign = 1 if request.side == "buy" else -1
            gain = _dec(abs(0 * best[1]) + sign * (best[1] - plan.quote_amount))  # no "-0"
        return {
            "subaccount": request.sub_id,
            "legs": legs,
            "fees": _dec(sum((leg.fee for leg in plan.legs), Decimal(0))),
            "fixed_costs": _dec(sum((leg.leg_cost for leg in plan.legs), Decimal(0))),
            "gain_over_best_single": gain,
            "margin": self._margin_after(request.sub_id, request.symbol, request.side, plan),
        }

    def _margin_after(self, sub_id: Any, symbol: str, side: str, plan: Any) -> dict[str, Any]:
        # The ledger journals every check; a preview must not, so it checks a scratch copy.
        scratch = self.ledger.clone()
        instrument = "perp" if ":" in symbol else "spot"
        legs = [
            MarginLeg(instrument, symbol, side, leg.qty, leg.quote_amount, leg.fee + leg.leg_cost)
            for leg in plan.legs
            if leg.qty > 0
        ]
        check = LedgerGate(scratch, sub_id, self.perp_markets).check(legs)
        return {
            "asset": check.asset,
            "headroom_before": _dec(check.headroom_before),
            "headroom_after": _dec(check.headroom_after[-1]) if check.headroom_after else None,
            "accepted": check.accepted,
            "reason": check.reason,
        }
