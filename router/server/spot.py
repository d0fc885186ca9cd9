"""Spot account and trading endpoints (/api/v3 signed, /sapi currencies, listenKeys).

A mixin of :class:`router.server.app.VenueServer` (``self`` is the server: ``engine``, ``ledger``,
``streams``, the clocks); each handler takes the parsed parameters (and the verified account).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.server import params as P
from router.server.accounts import decimal_of
from router.server.common import (
    plain,
    uid,
)
from router.server.engine import OrderRecord
from router.server.errors import (
    MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    BinanceError,
    CancelReplaceError,
    illegal,
)


class SpotRest:
    """Handlers of this module; the VenueServer provides the state they read and change."""

    engine: Any
    ledger: Any
    streams: Any
    limits: Any

    # ---- signed: spot ----------------------------------------------------------------------
    def _account_spot(self, params: dict[str, str], account: str, view: str = "") -> dict[str, Any]:
        balances = [
            {
                "asset": asset,
                "free": plain(
                    decimal_of(self.ledger.free(account, asset), self.ledger.decimals(asset))
                ),
                "locked": plain(
                    decimal_of(self.ledger.locked(account, asset), self.ledger.decimals(asset))
                ),
            }
            for asset in self.ledger.assets
        ]
        return {
            "makerCommission": 0,
            "takerCommission": 0,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.market_clock_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": uid(account),
        }

    def _order_test_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        """POST /api/v3/order/test: validates the request only (parameters and symbol)."""
        req = self._order_request(params, "spot")
        self.engine.market(req["symbol"], "spot", view)
        return {}

    def _order_post_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        return self._order_post(params, account, "spot", view)

    def _order_get_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        return self._spot_order_json(
            self.engine.find_order(account, symbol, "spot", order_id, client_id, view)
        )

    def _order_delete_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        record = self.engine.cancel(account, "spot", symbol, order_id, client_id, view)
        body = self._spot_order_json(record)
        body["origClientOrderId"] = record.client_order_id
        return body

    def _open_orders_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = P.symbol(params, required=False)
        return [
            self._spot_order_json(r) for r in self.engine.open_orders(account, "spot", symbol, view)
        ]

    def _my_trades_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        return [
            {
                "symbol": t.symbol,
                "id": t.trade_id,
                "orderId": t.order_id,
                "orderListId": -1,
                "price": plain(t.price),
                "qty": plain(t.qty),
                "quoteQty": plain(t.quote_qty),
                "commission": plain(t.commission),
                "commissionAsset": t.commission_asset,
                "time": t.time_ms,
                "isBuyer": t.is_buyer,
                "isMaker": t.is_maker,
                "isBestMatch": True,
            }
            for t in self._trades(params, account, "spot", view)
        ]

    def _spot_order_json(self, r: OrderRecord, response_type: str = "RESULT") -> dict[str, Any]:
        u = self.engine.by_name[r.venue].units
        body: dict[str, Any] = {
            "symbol": r.symbol,
            "orderId": r.order_id,
            "orderListId": -1,
            "clientOrderId": r.client_order_id,
            "price": plain(r.price),
            "origQty": plain(r.orig_qty),
            "executedQty": plain(decimal_of(r.executed_base_units, u.base_decimals)),
            "cummulativeQuoteQty": plain(decimal_of(r.cum_quote_units, u.quote_decimals)),
            "status": r.status,
            "timeInForce": "GTC" if r.tif == "POST_ONLY" else r.tif,
            "type": "LIMIT_MAKER" if r.tif == "POST_ONLY" else r.type,
            "side": r.side,
            "stopPrice": "0",
            "icebergQty": "0",
            "time": r.time_ms,
            "updateTime": r.update_time_ms,
            "transactTime": r.update_time_ms,
            "isWorking": r.is_open,
            "workingTime": r.time_ms,
            "origQuoteOrderQty": plain(r.orig_quote_qty),
            "selfTradePreventionMode": "EXPIRE_TAKER",
        }
        if response_type == "FULL":
            body["fills"] = [
                {
                    "price": plain(t.price),
                    "qty": plain(t.qty),
                    "commission": plain(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in r.fills
                if not t.is_maker
            ]
        return body

    def _all_orders_spot(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._all_orders(params, account, "spot", view)

    def _cancel_all_spot(self, params: dict[str, str], account: str, view: str = "") -> Any:
        rows = []
        for record in self._cancel_all(params, account, "spot", view):
            body = self._spot_order_json(record)
            body["origClientOrderId"] = record.client_order_id
            rows.append(body)
        return rows

    def _cancel_replace_spot(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        """POST /api/v3/order/cancelReplace with cancelReplaceMode STOP_ON_FAILURE or
        ALLOW_FAILURE: cancel the named order, then place the new one."""
        mode = P.required(params, "cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise illegal("cancelReplaceMode", mode, "STOP_ON_FAILURE | ALLOW_FAILURE")
        symbol = P.symbol(params)
        order_id = P.integer(params, "cancelOrderId", minimum=1)
        client_id = P.client_id(params, "cancelOrigClientOrderId")
        if order_id is None and client_id is None:
            raise BinanceError(
                MANDATORY_PARAM_EMPTY_OR_MALFORMED,
                "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both "
                "were empty/null!",
            )
        req = self._order_request(params, "spot")  # validated before anything is cancelled
        cancel_error = new_error = None
        cancel_body: dict[str, Any] | None = None
        try:
            cancelled = self.engine.cancel(account, "spot", symbol, order_id, client_id, view)  # type: ignore[arg-type]
            self.streams.order_cancelled(cancelled)
            cancel_body = self._spot_order_json(cancelled)
        except BinanceError as exc:
            cancel_error = exc
        new_body: dict[str, Any] | None = None
        if cancel_error is None or mode == "ALLOW_FAILURE":
            try:
                record = self._place(req, account, "spot", view)
                self.streams.order_placed(record)
                new_body = self._spot_order_json(record, req["response_type"])
            except BinanceError as exc:
                new_error = exc
        if cancel_error is None and new_error is None:
            return {
                "cancelResult": "SUCCESS",
                "newOrderResult": "SUCCESS",
                "cancelResponse": cancel_body,
                "newOrderResponse": new_body,
            }
        data = {
            "cancelResult": "FAILURE" if cancel_error else "SUCCESS",
            "newOrderResult": "FAILURE"
            if new_error
            else "SUCCESS"
            if new_body
            else "NOT_ATTEMPTED",
            "cancelResponse": cancel_error.body() if cancel_error else cancel_body,
            "newOrderResponse": new_error.body() if new_error else new_body,
        }
        partial = (cancel_error is None) or (new_body is not None)  # exactly one succeeded
        code, msg = (
            (-2021, "Order cancel-replace partially failed.")
            if partial
            else (-2022, "Order cancel-replace failed.")
        )
        raise CancelReplaceError(code, msg, data)

    # ---- currencies (sapi) ---------------------------------------------------------------------
    def _currencies(self, params: dict[str, str], account: str, view: str = "") -> list[Any]:
        """GET /sapi/v1/capital/config/getall: every asset of the server, with the account's
        balances; deposits and withdrawals are closed (this venue moves no funds in or out)."""
        rows = []
        for asset in self.ledger.assets:
            digits = self.ledger.decimals(asset)
            rows.append(
                {
                    "coin": asset,
                    "name": asset,
                    "depositAllEnable": False,
                    "withdrawAllEnable": False,
                    "free": plain(decimal_of(self.ledger.free(account, asset), digits)),
                    "locked": plain(decimal_of(self.ledger.locked(account, asset), digits)),
                    "freeze": "0",
                    "withdrawing": "0",
                    "ipoing": "0",
                    "ipoable": "0",
                    "storage": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "networkList": [
                        {
                            "network": "CROSSROUTE",
                            "coin": asset,
                            "name": "crossroute simulated venue",
                            "isDefault": True,
                            "depositEnable": False,
                            "withdrawEnable": False,
                            "depositDesc": "simulated venue: no deposits",
                            "withdrawDesc": "simulated venue: no withdrawals",
                            "withdrawFee": "0",
                            "withdrawMin": "0",
                            "withdrawMax": "0",
                            "withdrawIntegerMultiple": plain(Decimal(1).scaleb(-digits)),
                            "depositDust": "0",
                            "minConfirm": 0,
                            "unLockConfirm": 0,
                            "sameAddress": False,
                            "busy": False,
                        }
                    ],
                }
            )
        return rows

    # ---- user-data stream keys ------------------------------------------------------------------
    def _listen_key_new(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return {"listenKey": self.streams.listen_keys.create(account)}

    def _listen_key_keep(self, params: dict[str, str], account: str, view: str = "") -> Any:
        key = params.get("listenKey") or self.streams.listen_keys.key_of(account)
        self.streams.listen_keys.keep_alive(account, key)
        return {}

    def _listen_key_close(self, params: dict[str, str], account: str, view: str = "") -> Any:
        key = params.get("listenKey") or self.streams.listen_keys.key_of(account)
        self.streams.listen_keys.close(account, key)
        self.streams.close_user(key)
        return {}
