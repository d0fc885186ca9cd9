"""Order requests shared by spot and USD-M: parsing a new order the way Binance does,
placing it, order references, trade and order lists, cancel-all.

A mixin of :class:`router.server.app.VenueServer` (``self`` is the server: ``engine``, ``ledger``,
``streams``, the clocks); each handler takes the parsed parameters (and the verified account).
"""

from __future__ import annotations

from typing import Any

from router.server import params as P
from router.server.common import (
    UNMODELLED_ORDER_TYPES,
)
from router.server.engine import OrderRecord, TradeRecord, position_key
from router.server.errors import (
    INVALID_ORDER_TYPE,
    INVALID_SIDE,
    INVALID_TIF,
    MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    UNSUPPORTED_OPERATION,
    BinanceError,
    missing,
)


class OrderRest:
    """Handlers of this module; the VenueServer provides the state they read and change."""

    engine: Any
    ledger: Any
    streams: Any
    limits: Any

    def _order_request(self, params: dict[str, str], kind: str) -> dict[str, Any]:
        """The parsed order of a POST order request; refuses (changing nothing) what Binance does."""
        symbol = P.symbol(params)
        side = P.required(params, "side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(INVALID_SIDE, "Invalid side.", field="side", value=side[:16])
        order_type = P.required(params, "type")
        modelled = ("LIMIT", "MARKET", "LIMIT_MAKER") if kind == "spot" else ("LIMIT", "MARKET")
        if order_type in UNMODELLED_ORDER_TYPES:
            raise BinanceError(
                UNSUPPORTED_OPERATION,
                f"Order type {order_type} is not supported by this venue.",
                field="type",
            )
        if order_type not in modelled:
            raise BinanceError(
                INVALID_ORDER_TYPE, "Invalid orderType.", field="type", value=order_type[:16]
            )
        qty = P.decimal(params, "quantity", required=False)
        quote_qty = P.decimal(params, "quoteOrderQty", required=False)
        if order_type == "MARKET" and kind == "spot":
            if (qty is None) == (quote_qty is None):
                raise BinanceError(
                    MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                    "Param 'quantity' or 'quoteOrderQty' must be sent, but not both.",
                    field="quantity",
                )
        else:
            if quote_qty is not None:
                raise BinanceError(
                    -1106,
                    "Parameter 'quoteOrderQty' sent when not required.",
                    field="quoteOrderQty",
                )
            reduce_or_close = kind == "perp" and P.boolean(params, "closePosition")
            if qty is None and not reduce_or_close:
                raise missing("quantity")
        price = None
        tif = "GTC"
        if order_type in ("LIMIT", "LIMIT_MAKER"):
            price = P.decimal(params, "price")
            if order_type == "LIMIT_MAKER":
                if params.get("timeInForce"):
                    raise BinanceError(
                        -1106,
                        "Parameter 'timeInForce' sent when not required.",
                        field="timeInForce",
                    )
                tif = "POST_ONLY"
            else:
                tif = P.required(params, "timeInForce")
                allowed = ("GTC", "IOC", "FOK", "GTX")
                if tif not in allowed:
                    raise BinanceError(
                        INVALID_TIF, "Invalid timeInForce.", field="timeInForce", value=tif[:16]
                    )
                tif = "POST_ONLY" if tif == "GTX" else tif
        elif params.get("price"):
            raise BinanceError(-1106, "Parameter 'price' sent when not required.", field="price")
        client_id = P.client_id(params, "newClientOrderId")
        response_type = P.choice(
            params,
            "newOrderRespType",
            ("ACK", "RESULT", "FULL"),
            "FULL" if kind == "spot" else "RESULT",
        )
        reduce_only = close_position = False
        position_side = "BOTH"
        if kind == "perp":
            reduce_only = P.boolean(params, "reduceOnly")
            close_position = P.boolean(params, "closePosition")
            position_side = P.choice(params, "positionSide", ("BOTH", "LONG", "SHORT"), "BOTH")
        return {
            "symbol": symbol,
            "side": side,
            "order_type": "LIMIT" if order_type == "LIMIT_MAKER" else order_type,
            "shown_type": order_type,
            "qty": qty,
            "quote_qty": quote_qty,
            "price": price,
            "tif": tif,
            "client_order_id": client_id,
            "response_type": response_type,
            "reduce_only": reduce_only,
            "close_position": close_position,
            "position_side": position_side,
        }

    def _place(self, req: dict[str, Any], account: str, kind: str, view: str) -> OrderRecord:
        """One engine call for a parsed order request."""
        extra: dict[str, Any] = {}
        if req["quote_qty"] is not None:
            extra["quote_qty"] = req["quote_qty"]
        if kind == "perp":
            if req["close_position"]:
                # closePosition: a MARKET order for the whole position, reduce-only (Binance
                # takes it on stop orders, which this venue does not model; a plain MARKET
                # close is what a bot means by it here)
                if req["order_type"] != "MARKET" or req["qty"] is not None:
                    raise BinanceError(
                        -4136,
                        "Target strategy invalid for orderType MARKET,closePosition true"
                        if req["order_type"] != "MARKET"
                        else "Parameter 'quantity' sent with closePosition.",
                    )
                market = self.engine.market(req["symbol"], "perp", view)
                key = position_key(market.name, req["position_side"])
                size = self.ledger.position(account, key).size_lots
                if size == 0:
                    raise BinanceError(-2022, "ReduceOnly Order is rejected.")
                req = {**req, "qty": abs(size) * market.step_size}
                extra["reduce_only"] = req["position_side"] == "BOTH"
            elif req["reduce_only"]:
                extra["reduce_only"] = True
            if req["position_side"] != "BOTH":
                extra["position_side"] = req["position_side"]
        return self.engine.place(
            account,
            kind,
            req["symbol"],
            req["side"],
            req["order_type"],
            qty=req["qty"],
            price=req["price"],
            tif=req["tif"],
            client_order_id=req["client_order_id"],
            view=view,
            **extra,
        )

    def _order_post(
        self, params: dict[str, str], account: str, kind: str, view: str = ""
    ) -> dict[str, Any]:
        req = self._order_request(params, kind)
        record = self._place(req, account, kind, view)
        self.streams.order_placed(record)
        if kind == "perp":
            return self._perp_order_json(record)
        return self._spot_order_json(record, response_type=req["response_type"])

    def _order_ref(
        self, params: dict[str, str], view: str = ""
    ) -> tuple[str, int | None, str | None]:
        symbol = P.symbol(params)
        order_id = P.integer(params, "orderId", minimum=1)
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceError(
                MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
                field="orderId",
            )
        return symbol, order_id, client_id  # type: ignore[return-value]

    def _trades(
        self, params: dict[str, str], account: str, kind: str, view: str = ""
    ) -> list[TradeRecord]:
        symbol = P.symbol(params)
        market = self.engine.market(symbol, kind, view)  # type: ignore[arg-type]
        order_id = P.integer(params, "orderId", minimum=1)
        from_id = P.integer(params, "fromId", minimum=0)
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1000)
        rows = [
            t
            for t in self.engine.trades[account]
            if self.engine.orders[t.order_id].venue == market.name
            and (order_id is None or t.order_id == order_id)
            and (from_id is None or t.trade_id >= from_id)
            and (start is None or t.time_ms >= start)
            and (end is None or t.time_ms <= end)
        ]
        return rows[-limit:] if from_id is None else rows[:limit]  # type: ignore[index]

    # ---- order lists and cancels ---------------------------------------------------------------
    def _all_orders(self, params: dict[str, str], account: str, kind: str, view: str) -> list[Any]:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        order_id = P.integer(params, "orderId", minimum=0)
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1000)
        rows = [
            r
            for r in self.engine.orders.values()
            if r.account == account
            and r.venue == market.name
            and (order_id is None or r.order_id >= order_id)
            and (start is None or r.time_ms >= start)
            and (end is None or r.time_ms <= end)
        ]
        rows = rows[:limit] if order_id is not None or start is not None else rows[-limit:]  # type: ignore[index]
        as_json = self._perp_order_json if kind == "perp" else self._spot_order_json
        return [as_json(r) for r in rows]

    def _cancel_all(self, params: dict[str, str], account: str, kind: str, view: str) -> list[Any]:
        symbol = P.symbol(params)
        records = self.engine.open_orders(account, kind, symbol, view)
        cancelled = [
            self.engine.cancel(account, kind, symbol, r.order_id, None, view)  # type: ignore[arg-type]
            for r in records
        ]
        for record in cancelled:
            self.streams.order_cancelled(record)
        return cancelled
