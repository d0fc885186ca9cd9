"""USD-M account and trading endpoints: orders, positions with their cross liquidation price,
wallet, leverage, margin type, position mode, income.

A mixin of :class:`router.server.app.VenueServer` (``self`` is the server: ``engine``, ``ledger``,
``streams``, the clocks); each handler takes the parsed parameters (and the verified account).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from router.server import params as P
from router.server.accounts import decimal_of, units_of
from router.server.common import (
    plain,
)
from router.server.engine import OrderRecord, position_key
from router.server.errors import (
    UNSUPPORTED_OPERATION,
    BinanceError,
    illegal,
    missing,
)

# funding income's tranIds sit above the trades' (2 x trade id + 0 | 1), so the two never meet
FUNDING_TRAN_BASE = 1 << 40


class UsdmRest:
    """Handlers of this module; the VenueServer provides the state they read and change."""

    engine: Any
    ledger: Any
    streams: Any
    limits: Any
    risk: Any

    def _order_post_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        return self._order_post(params, account, "perp", view)

    # ---- signed: perpetual -----------------------------------------------------------------
    def _perp_order_json(self, r: OrderRecord) -> dict[str, Any]:
        u = self.engine.by_name[r.venue].units
        executed = decimal_of(r.executed_base_units, u.base_decimals)
        cum_quote = decimal_of(r.cum_quote_units, u.quote_decimals)
        return {
            "orderId": r.order_id,
            "symbol": r.symbol,
            "status": r.status,
            "clientOrderId": r.client_order_id,
            "price": plain(r.price),
            "avgPrice": plain(cum_quote / executed) if executed else "0",
            "origQty": plain(r.orig_qty),
            "executedQty": plain(executed),
            "cumQty": plain(executed),
            "cumQuote": plain(cum_quote),
            "timeInForce": "GTX" if r.tif == "POST_ONLY" else r.tif,
            "type": r.type,
            "reduceOnly": r.reduce_only,
            "closePosition": False,
            "side": r.side,
            "positionSide": r.position_side,
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": r.type,
            "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_TAKER",
            "goodTillDate": 0,
            "time": r.time_ms,
            "updateTime": r.update_time_ms,
        }

    def _order_get_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        return self._perp_order_json(
            self.engine.find_order(account, symbol, "perp", order_id, client_id, view)
        )

    def _order_delete_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> dict[str, Any]:
        symbol, order_id, client_id = self._order_ref(params)
        return self._perp_order_json(
            self.engine.cancel(account, "perp", symbol, order_id, client_id, view)
        )

    def _open_orders_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = P.symbol(params, required=False)
        return [
            self._perp_order_json(r) for r in self.engine.open_orders(account, "perp", symbol, view)
        ]

    def _user_trades_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        return [
            {
                "symbol": t.symbol,
                "id": t.trade_id,
                "orderId": t.order_id,
                "side": t.side,
                "price": plain(t.price),
                "qty": plain(t.qty),
                "quoteQty": plain(t.quote_qty),
                "realizedPnl": plain(t.realized_pnl),
                "commission": plain(t.commission),
                "commissionAsset": t.commission_asset,
                "time": t.time_ms,
                "buyer": t.is_buyer,
                "maker": t.is_maker,
                "positionSide": "BOTH",
            }
            for t in self._trades(params, account, "perp", view)
        ]

    def _leverage_bracket(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        """The brackets of each market's [margin.markets] rule set (the margin core's tiers)."""
        return [
            {
                "symbol": m.units.symbol_id,
                "notionalCoef": 1.0,
                "brackets": self.risk.brackets(m.name),
            }
            for m in self._selected(params, "perp", view)
        ]

    # ---- funding (the margin core's rate, on the market clock) ----------------------------------
    def _settle_funding(self) -> None:
        """Sample each perp's premium at the sample points the market clock has passed (the
        books as they are now held since the last request) and settle every funding boundary it
        has passed: the rate from the margin core on the interval's average premium, then each
        position pays size x mark x rate into (or out of) its wallet."""
        now = self.market_clock_ms()
        for m in self.engine.by_name.values():
            if m.kind != "perp" or not self.risk.sample_due(m.name, now):
                continue
            for event in self.risk.settle(m.name, self._mark(m), self._index(m), now):
                asset = m.units.quote
                digits = self.ledger.decimals(asset)
                for (account, key), pos in sorted(self.ledger.positions.items()):
                    if key.split("@")[0] != m.name or not pos.size_lots:
                        continue
                    size = pos.size_lots * m.step_size
                    paid = self.risk.pay(
                        account, m.name, m.units.symbol_id, asset, size, event, digits
                    )
                    if paid is not None:
                        self.ledger.adjust_wallet(
                            account, asset, units_of(asset, paid.income, digits)
                        )
                        self.streams.funding_paid(account)

    def _position_rows(self, account: str, view: str) -> list[tuple[Any, str, Any]]:
        """(market, positionSide, position) of every perp position row the account shows: one
        BOTH row per symbol in one-way mode, a LONG and a SHORT row in hedge mode."""
        sides = ("LONG", "SHORT") if account in self.engine.hedge_mode else ("BOTH",)
        return [
            (m, side, self.ledger.position(account, position_key(m.name, side)))
            for m in self.engine.markets("perp", view)
            for side in sides
        ]

    def _positions(
        self, account: str, symbol: str | None = None, view: str = ""
    ) -> list[dict[str, Any]]:
        rows = []
        for m, side, pos in self._position_rows(account, view):
            sym = m.units.symbol_id
            u = m.units
            size = pos.size_lots * m.step_size
            entry_notional = decimal_of(pos.entry_quanta * m.quantum_units, u.quote_decimals)
            entry_price = entry_notional / size if size else Decimal(0)
            mark = self._mark(m)
            unrealised = (mark - entry_price) * size if size else Decimal(0)
            leverage = self.engine.leverage_of(account, m)
            im = decimal_of(
                -(-abs(pos.entry_quanta) * m.quantum_units // leverage), u.quote_decimals
            )
            mm = self.risk.maintenance(m.name, size, mark) if size else Decimal(0)
            rows.append(
                {
                    "symbol": sym,
                    "positionSide": side,
                    "positionAmt": plain(size),
                    "entryPrice": plain(entry_price),
                    "breakEvenPrice": plain(entry_price),
                    "markPrice": plain(mark),
                    "unRealizedProfit": plain(unrealised),
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": plain(mark * size),
                    "marginAsset": u.quote,
                    "isolatedWallet": "0",
                    "initialMargin": plain(im),
                    "maintMargin": plain(mm),
                    "positionInitialMargin": plain(im),
                    "openOrderInitialMargin": "0",
                    "adl": 0,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "leverage": str(leverage),
                    "marginType": "cross",
                    "updateTime": self.market_clock_ms(),
                    "_position": pos,
                    "_market": m,
                }
            )
        # the margin core's liquidation price, per margin asset over the account's cross positions
        by_asset: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["_position"].size_lots:
                by_asset.setdefault(row["marginAsset"], []).append(row)
        for asset, held in by_asset.items():
            wallet = decimal_of(self.ledger.free(account, asset), self.ledger.decimals(asset))
            prices = self.risk.liquidation_prices(
                wallet,
                [
                    (
                        r["_market"].name,
                        Decimal(r["positionAmt"]),
                        decimal_of(
                            r["_position"].entry_quanta * r["_market"].quantum_units,
                            r["_market"].units.quote_decimals,
                        ),
                        Decimal(r["markPrice"]),
                    )
                    for r in held
                ],
            )
            for r in held:
                price = prices[r["_market"].name]
                # None: no positive price liquidates the long (Binance shows 0)
                r["liquidationPrice"] = plain(price if price is not None else Decimal(0))
        for row in rows:
            del row["_position"], row["_market"]
        return [r for r in rows if symbol is None or r["symbol"] == symbol]

    def _position_risk(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        symbol = P.symbol(params, required=False)
        if symbol is not None:
            self.engine.market(symbol, "perp", view)
        return self._positions(account, symbol, view)

    def _perp_assets(
        self, account: str, positions: list[dict[str, Any]], view: str = ""
    ) -> list[dict[str, Any]]:
        """Per margin asset rows; ``positions`` are :meth:`_positions` of the account (built once
        by the caller, since each row needs them and they cost a depth read per market)."""
        assets = self.ledger.assets  # every asset: Binance lists the whole futures wallet
        rows = []
        for asset in assets:
            digits = self.ledger.decimals(asset)
            wallet = self.ledger.free(account, asset)
            used = self.engine.perp_margin_used(account, asset)
            unrealised = sum(
                (Decimal(p["unRealizedProfit"]) for p in positions if p["marginAsset"] == asset),
                Decimal(0),
            )
            maintenance = sum(
                (Decimal(p["maintMargin"]) for p in positions if p["marginAsset"] == asset),
                Decimal(0),
            )
            margin_balance = decimal_of(wallet, digits) + unrealised
            # Binance's cross available balance: margin balance less the initial margin in use,
            # so available + initial margin = margin balance (ccxt's free + used = total)
            available = margin_balance - decimal_of(used, digits)
            rows.append(
                {
                    "asset": asset,
                    "walletBalance": plain(decimal_of(wallet, digits)),
                    "unrealizedProfit": plain(unrealised),
                    "marginBalance": plain(margin_balance),
                    "initialMargin": plain(decimal_of(used, digits)),
                    "maintMargin": plain(maintenance),
                    "positionInitialMargin": "0",
                    "openOrderInitialMargin": "0",
                    "crossWalletBalance": plain(decimal_of(wallet, digits)),
                    "crossUnPnl": plain(unrealised),
                    "availableBalance": plain(available),
                    "maxWithdrawAmount": plain(
                        max(min(available, decimal_of(wallet - used, digits)), Decimal(0))
                    ),
                    "updateTime": self.market_clock_ms(),
                }
            )
        return rows

    def _account_perp(self, params: dict[str, str], account: str, view: str = "") -> dict[str, Any]:
        positions = self._positions(account, None, view)
        assets = self._perp_assets(account, positions, view)
        return {
            "totalWalletBalance": assets[0]["walletBalance"] if assets else "0",
            "availableBalance": assets[0]["availableBalance"] if assets else "0",
            "assets": assets,
            "positions": positions,
        }

    def _balance_perp(
        self, params: dict[str, str], account: str, view: str = ""
    ) -> list[dict[str, Any]]:
        return [
            {
                "accountAlias": account,
                "asset": a["asset"],
                "balance": a["walletBalance"],
                "crossWalletBalance": a["crossWalletBalance"],
                "crossUnPnl": a["crossUnPnl"],
                "availableBalance": a["availableBalance"],
                "maxWithdrawAmount": a["maxWithdrawAmount"],
                "updateTime": a["updateTime"],
            }
            for a in self._perp_assets(account, self._positions(account, None, view), view)
        ]

    # ---- USD-M account settings ---------------------------------------------------------------
    def _set_leverage(self, params: dict[str, str], account: str, view: str = "") -> Any:
        symbol = P.symbol(params)
        leverage = P.integer(params, "leverage", minimum=1, maximum=125)
        if leverage is None:
            raise missing("leverage")
        market = self.engine.market(symbol, "perp", view)  # type: ignore[arg-type]
        self.engine.set_leverage(account, symbol, leverage, view)  # type: ignore[arg-type]
        return {
            "leverage": leverage,
            "maxNotionalValue": "9000000000000",
            "symbol": market.units.symbol_id,
        }

    def _set_margin_type(self, params: dict[str, str], account: str, view: str = "") -> Any:
        """Cross margin only: the venue server has no isolated wallets, so ISOLATED is refused
        with Binance's unsupported-operation code rather than accepted and ignored."""
        self.engine.market(P.symbol(params), "perp", view)  # type: ignore[arg-type]
        margin_type = P.required(params, "marginType")
        if margin_type.upper() == "CROSSED":
            raise BinanceError(-4046, "No need to change margin type.")
        if margin_type.upper() == "ISOLATED":
            raise BinanceError(
                UNSUPPORTED_OPERATION, "Isolated margin is not supported by this venue."
            )
        raise illegal("marginType", margin_type, "ISOLATED | CROSSED")

    def _get_dual(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return {"dualSidePosition": account in self.engine.hedge_mode}

    def _set_dual(self, params: dict[str, str], account: str, view: str = "") -> Any:
        raw = P.required(params, "dualSidePosition")
        if raw.lower() not in ("true", "false"):
            raise illegal("dualSidePosition", raw, "true or false")
        self.engine.set_hedge_mode(account, raw.lower() == "true")
        return {"code": 200, "msg": "success"}

    def _symbol_config(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return [
            {
                "symbol": m.units.symbol_id,
                "marginType": "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": self.engine.leverage_of(account, m),
                "maxNotionalValue": "9000000000000",
            }
            for m in self._selected(params, "perp", view)
        ]

    def _multi_assets(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return {"multiAssetsMargin": False}

    def _income(self, params: dict[str, str], account: str, view: str = "") -> list[Any]:
        """Realised PnL and commissions of the account's perpetual fills and its funding fees,
        oldest first."""
        symbol = P.symbol(params, required=False)
        income_type = P.choice(
            params, "incomeType", ("", "REALIZED_PNL", "COMMISSION", "FUNDING_FEE"), ""
        )
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=100, minimum=1, maximum=1000)
        names = {m.name for m in self.engine.markets("perp", view)}
        rows: list[dict[str, Any]] = []
        for t in self.engine.trades[account]:
            record = self.engine.orders[t.order_id]
            if record.venue not in names or (symbol is not None and t.symbol != symbol):
                continue
            if (start is not None and t.time_ms < start) or (end is not None and t.time_ms > end):
                continue
            for kind, amount in (("REALIZED_PNL", t.realized_pnl), ("COMMISSION", -t.commission)):
                if (income_type and kind != income_type) or (kind == "REALIZED_PNL" and not amount):
                    continue
                rows.append(
                    {
                        "symbol": t.symbol,
                        "incomeType": kind,
                        "income": plain(amount),
                        "asset": t.commission_asset,
                        "info": kind,
                        "time": t.time_ms,
                        "tranId": t.trade_id * 2 + (kind == "COMMISSION"),
                        "tradeId": str(t.trade_id),
                    }
                )
        if income_type in ("", "FUNDING_FEE"):
            for paid in self.risk.payments.get(account, []):
                if paid.venue not in names or (symbol is not None and paid.symbol != symbol):
                    continue
                if (start is not None and paid.time_ms < start) or (
                    end is not None and paid.time_ms > end
                ):
                    continue
                rows.append(
                    {
                        "symbol": paid.symbol,
                        "incomeType": "FUNDING_FEE",
                        "income": plain(paid.income),
                        "asset": paid.asset,
                        "info": "FUNDING_FEE",
                        "time": paid.time_ms,
                        "tranId": FUNDING_TRAN_BASE + paid.tran_id,
                        "tradeId": "",
                    }
                )
        rows.sort(key=lambda row: row["time"])  # stable: a trade's rows keep their order
        return rows[:limit] if start is not None else rows[-limit:]  # type: ignore[index]

    def _all_orders_perp(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._all_orders(params, account, "perp", view)

    def _cancel_all_perp(self, params: dict[str, str], account: str, view: str = "") -> Any:
        self._cancel_all(params, account, "perp", view)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}
