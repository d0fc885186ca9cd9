"""Public market data, spot and USD-M: exchange info, depth, tickers, prices, trades,
aggregate trades, klines, mark price and funding, fee rates.

A mixin of :class:`router.server.app.VenueServer` (``self`` is the server: ``engine``, ``ledger``,
``streams``, the clocks); each handler takes the parsed parameters (and the verified account).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from router.margin.oracle import aggregate
from router.margin.quantities import PLACES, to_decimal
from router.server import params as P
from router.server import tape as T
from router.server.common import (
    levels_json,
    plain,
)
from router.server.engine import PIPS
from router.server.errors import (
    illegal,
)
from router.server.markets import BookMarket, PoolMarket, filters, precision_digits
from router.server.risk import INDEX_MAX_DEVIATION_BPS, MARK_QUANTUM


class MarketDataRest:
    """Handlers of this module; the VenueServer provides the state they read and change."""

    engine: Any
    ledger: Any
    streams: Any
    limits: Any
    risk: Any

    # ---- public ----------------------------------------------------------------------------
    def _ping(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return {}

    def _time(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return {"serverTime": self.clock_ms()}

    def _rate_limits(self) -> list[dict[str, Any]]:
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.limits.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": self.limits.orders_per_10s,
            },
        ]

    def _selected(self, params: dict[str, str], kind: str, view: str = "") -> list[Any]:
        symbol = P.symbol(params, required=False)
        raw_symbols = params.get("symbols")
        if symbol is not None:
            return [self.engine.market(symbol, kind, view)]
        if raw_symbols:
            try:
                names = json.loads(raw_symbols)
            except ValueError:
                raise illegal("symbols", raw_symbols, 'a JSON list such as ["ETHUSDC"]') from None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise illegal("symbols", raw_symbols, 'a JSON list such as ["ETHUSDC"]')
            return [self.engine.market(n, kind, view) for n in names]
        return self.engine.markets(kind, view)

    def _exchange_info_spot(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        symbols = []
        for m in self._selected(params, "spot", view):
            u = m.units
            symbols.append(
                {
                    "symbol": u.symbol_id,
                    "status": "TRADING",
                    "baseAsset": u.base,
                    "baseAssetPrecision": u.base_decimals,
                    "quoteAsset": u.quote,
                    "quotePrecision": u.quote_decimals,
                    "quoteAssetPrecision": u.quote_decimals,
                    "baseCommissionPrecision": u.base_decimals,
                    "quoteCommissionPrecision": u.quote_decimals,
                    "orderTypes": list(m.order_types)
                    + (["LIMIT_MAKER"] if "LIMIT" in m.order_types else []),
                    "icebergAllowed": False,
                    "ocoAllowed": False,
                    "otoAllowed": False,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": False,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": filters(m),
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER"],
                    "venue": m.name,
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": self._rate_limits(),
            "exchangeFilters": [],
            "symbols": symbols,
        }

    def _exchange_info_perp(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        symbols = []
        for m in self._selected(params, "perp", view):
            u = m.units
            spot_filters = filters(m)
            perp_filters = spot_filters[:3] + [
                {"filterType": "MIN_NOTIONAL", "notional": plain(m.min_notional)}
            ]
            symbols.append(
                {
                    "symbol": u.symbol_id,
                    "pair": u.symbol_id,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "baseAsset": u.base,
                    "quoteAsset": u.quote,
                    "marginAsset": u.quote,
                    "pricePrecision": precision_digits(m.tick_size),
                    "quantityPrecision": precision_digits(m.step_size),
                    "baseAssetPrecision": u.base_decimals,
                    "quotePrecision": u.quote_decimals,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "settlePlan": 0,
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0",
                    "marketTakeBound": "0.05",
                    "filters": perp_filters,
                    "orderTypes": list(m.order_types),
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                    "venue": m.name,
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": self._rate_limits(),
            "exchangeFilters": [],
            "assets": [],
            "symbols": symbols,
        }

    def _exchange_info_none(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        """Coin-margined futures and options: this server lists no such market."""
        return {
            "timezone": "UTC",
            "serverTime": self.clock_ms(),
            "rateLimits": self._rate_limits(),
            "exchangeFilters": [],
            "symbols": [],
            "optionSymbols": [],
            "optionContracts": [],
            "optionAssets": [],
        }

    def _system_status(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return {"status": 0, "msg": "normal"}

    def _no_rows(self, params: dict[str, str], account: str = "", view: str = "") -> list[Any]:
        """Margin pairs, funding info: nothing of the kind is served here."""
        return []

    def _depth(self, params: dict[str, str], kind: str, view: str = "") -> dict[str, Any]:
        symbol = P.symbol(params)
        limit = P.integer(params, "limit", default=100, minimum=1, maximum=5000)
        market = self.engine.market(symbol, kind, view)  # type: ignore[arg-type]
        update_id = self.streams.update_id(market)  # publishes first: the id matches these levels
        body = {"lastUpdateId": update_id, **levels_json(*market.depth(limit))}
        # Binance's spot depth has no times; ccxt then leaves the book's timestamp empty, which
        # its own validator rejects. The market-clock time of the snapshot is true, so say it.
        now = self.market_clock_ms()
        body.update({"E": now, "T": now})
        return body

    def _depth_spot(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return self._depth(params, "spot", view)

    def _depth_perp(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        return self._depth(params, "perp", view)

    def _ticker(self, market: Any, kind: str) -> dict[str, Any]:
        now = self.market_clock_ms()
        tape = [t for t in self.engine.tape.get(market.name, []) if t[0] >= now - 86_400_000]
        bids, asks = market.depth(1)
        bid_p, bid_q = bids[0] if bids else (Decimal(0), Decimal(0))
        ask_p, ask_q = asks[0] if asks else (Decimal(0), Decimal(0))
        volume = sum((t[2] for t in tape), Decimal(0))
        quote_volume = sum((t[3] for t in tape), Decimal(0))
        last_p = tape[-1][1] if tape else (bid_p + ask_p) / 2 if bids and asks else Decimal(0)
        open_p = tape[0][1] if tape else last_p
        body = {
            "symbol": market.units.symbol_id,
            "priceChange": plain(last_p - open_p),
            "priceChangePercent": plain(
                ((last_p - open_p) * 100 / open_p).quantize(Decimal("0.001"))
            )
            if open_p
            else "0",
            "weightedAvgPrice": plain(quote_volume / volume) if volume else plain(last_p),
            "lastPrice": plain(last_p),
            "lastQty": plain(tape[-1][2]) if tape else "0",
            "openPrice": plain(open_p),
            "highPrice": plain(max((t[1] for t in tape), default=last_p)),
            "lowPrice": plain(min((t[1] for t in tape), default=last_p)),
            "volume": plain(volume),
            "quoteVolume": plain(quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": -1,
            "lastId": -1,
            "count": len(tape),
        }
        if kind == "spot":
            body.update(
                {
                    "prevClosePrice": plain(open_p),
                    "bidPrice": plain(bid_p),
                    "bidQty": plain(bid_q),
                    "askPrice": plain(ask_p),
                    "askQty": plain(ask_q),
                }
            )
        return body

    def _ticker_spot(self, params: dict[str, str], view: str = "") -> Any:
        bodies = [self._ticker(m, "spot") for m in self._selected(params, "spot", view)]
        return bodies[0] if params.get("symbol") else bodies

    def _ticker_perp(self, params: dict[str, str], view: str = "") -> Any:
        bodies = [self._ticker(m, "perp") for m in self._selected(params, "perp", view)]
        return bodies[0] if params.get("symbol") else bodies

    # ---- public market data from the tape ---------------------------------------------------
    def _tape_rows(self, params: dict[str, str], kind: str, view: str) -> tuple[Any, list[Any]]:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1000)
        rows = T.select(
            self.engine.tape.get(market.name, []),
            from_id=P.integer(params, "fromId", minimum=0),
            start_ms=P.integer(params, "startTime", minimum=0),
            end_ms=P.integer(params, "endTime", minimum=0),
            limit=limit,  # type: ignore[arg-type]
        )
        return market, rows

    def _trades_spot(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.trade_json(i, t) for i, t in self._tape_rows(params, "spot", view)[1]]

    def _trades_perp(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.trade_json(i, t) for i, t in self._tape_rows(params, "perp", view)[1]]

    def _agg_trades_spot(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.agg_trade_json(i, t) for i, t in self._tape_rows(params, "spot", view)[1]]

    def _agg_trades_perp(self, params: dict[str, str], view: str = "") -> list[dict[str, Any]]:
        return [T.agg_trade_json(i, t) for i, t in self._tape_rows(params, "perp", view)[1]]

    def _klines(self, params: dict[str, str], kind: str, view: str) -> list[list[Any]]:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        length_ms = T.interval_ms(params.get("interval"))
        limit = P.integer(params, "limit", default=500, minimum=1, maximum=1500)
        bars = T.klines(
            self.engine.tape.get(market.name, []),
            length_ms,
            start_ms=P.integer(params, "startTime", minimum=0),
            end_ms=P.integer(params, "endTime", minimum=0),
            limit=limit,  # type: ignore[arg-type]
        )
        return [T.kline_row(bar) for bar in bars]

    def _klines_spot(self, params: dict[str, str], view: str = "") -> list[list[Any]]:
        return self._klines(params, "spot", view)

    def _klines_perp(self, params: dict[str, str], view: str = "") -> list[list[Any]]:
        return self._klines(params, "perp", view)

    def _avg_price(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        market = self.engine.market(P.symbol(params), "spot", view)  # type: ignore[arg-type]
        now = self.market_clock_ms()
        recent = [t for t in self.engine.tape.get(market.name, []) if t.time_ms >= now - 300_000]
        qty = sum((t.qty for t in recent), Decimal(0))
        quote = sum((t.quote_qty for t in recent), Decimal(0))
        price = quote / qty if qty else self._mid(market)
        return {"mins": 5, "price": plain(price), "closeTime": now}

    def _mid(self, market: Any) -> Decimal:
        bids, asks = market.depth(1)
        if bids and asks:
            return (bids[0][0] + asks[0][0]) / 2
        tape = self.engine.tape.get(market.name)
        return tape[-1].price if tape else Decimal(0)

    def _mark(self, market: BookMarket) -> Decimal:
        return self._mid(market)

    def _index(self, market: Any) -> Decimal:
        """The index of a perp: the median of the mids of the spot markets trading its oracle
        asset against its quote asset (the margin core's aggregate, outliers beyond 100 bps of
        the median dropped); the perp's own mark when no such market is served."""
        oracle = self.risk.rules[market.name].oracle
        readings = {}
        for m in self.engine.by_name.values():
            if m.kind == "spot" and (m.units.base, m.units.quote) == (oracle, market.units.quote):
                mid = self._mid(m)
                if mid > 0:
                    readings[m.name] = (int(mid.quantize(MARK_QUANTUM).scaleb(PLACES)), 0)
        if not readings:
            return self._mark(market)
        mark = aggregate(oracle, readings, 0, 0, INDEX_MAX_DEVIATION_BPS, 1)
        assert mark.price_units is not None  # readings is not empty
        return to_decimal(mark.price_units)

    def _price(self, params: dict[str, str], kind: str, view: str) -> Any:
        rows = []
        for m in self._selected(params, kind, view):
            tape = self.engine.tape.get(m.name)
            row = {
                "symbol": m.units.symbol_id,
                "price": plain(tape[-1].price if tape else self._mid(m)),
            }
            if kind == "perp":
                row["time"] = self.market_clock_ms()
            rows.append(row)
        return rows[0] if params.get("symbol") else rows

    def _price_spot(self, params: dict[str, str], view: str = "") -> Any:
        return self._price(params, "spot", view)

    def _price_perp(self, params: dict[str, str], view: str = "") -> Any:
        return self._price(params, "perp", view)

    def _book_ticker(self, params: dict[str, str], kind: str, view: str) -> Any:
        rows = []
        for m in self._selected(params, kind, view):
            bids, asks = m.depth(1)
            row = {
                "symbol": m.units.symbol_id,
                "bidPrice": plain(bids[0][0]) if bids else "0",
                "bidQty": plain(bids[0][1]) if bids else "0",
                "askPrice": plain(asks[0][0]) if asks else "0",
                "askQty": plain(asks[0][1]) if asks else "0",
            }
            if kind == "perp":
                now = self.market_clock_ms()
                row.update({"time": now, "lastUpdateId": self.streams.update_id(m)})
            rows.append(row)
        return rows[0] if params.get("symbol") else rows

    def _book_ticker_spot(self, params: dict[str, str], view: str = "") -> Any:
        return self._book_ticker(params, "spot", view)

    def _book_ticker_perp(self, params: dict[str, str], view: str = "") -> Any:
        return self._book_ticker(params, "perp", view)

    # ---- funding and mark (USD-M) ------------------------------------------------------------
    def _premium_index(self, params: dict[str, str], view: str = "") -> Any:
        """Mark = the book's mid, index = the median of the oracle asset's spot mids (see
        usdm._index), lastFundingRate = the margin core's rate on the premium now (what the next
        settlement pays if nothing moves), nextFundingTime = the next interval boundary."""
        now = self.market_clock_ms()
        rows = []
        for m in self._selected(params, "perp", view):
            mark, index = self._mark(m), self._index(m)
            rows.append(
                {
                    "symbol": m.units.symbol_id,
                    "markPrice": plain(mark),
                    "indexPrice": plain(index),
                    "estimatedSettlePrice": plain(index),
                    "lastFundingRate": plain(self.risk.predicted_rate(m.name, mark, index)),
                    "interestRate": plain(self.risk.interest_rate(m.name)),
                    "nextFundingTime": self.risk.next_funding_ms(m.name),
                    "time": now,
                }
            )
        return rows[0] if params.get("symbol") else rows

    def _funding_history(self, params: dict[str, str], view: str = "") -> list[Any]:
        """The settled intervals (rate and mark) of one or every perp, oldest first; Binance's
        startTime / endTime / limit (default 100, at most 1000: the first ``limit`` from
        startTime, else the last ``limit``)."""
        symbol = P.symbol(params, required=False)
        start = P.integer(params, "startTime", minimum=0)
        end = P.integer(params, "endTime", minimum=0)
        limit = P.integer(params, "limit", default=100, minimum=1, maximum=1000)
        markets = (
            [self.engine.market(symbol, "perp", view)]
            if symbol is not None
            else self.engine.markets("perp", view)
        )
        rows = [
            {
                "symbol": m.units.symbol_id,
                "fundingTime": event.time_ms,
                "fundingRate": plain(event.rate),
                "markPrice": plain(event.mark),
            }
            for m in markets
            for event in self.risk.state[m.name].events
            if (start is None or event.time_ms >= start) and (end is None or event.time_ms <= end)
        ]
        rows.sort(key=lambda row: row["fundingTime"])
        return rows[:limit] if start is not None else rows[-limit:]  # type: ignore[index]

    def _open_interest(self, params: dict[str, str], view: str = "") -> dict[str, Any]:
        market = self.engine.market(P.symbol(params), "perp", view)  # type: ignore[arg-type]
        longs = sum(
            (
                p.size_lots
                for (_, name), p in self.ledger.positions.items()
                if name.split("@")[0] == market.name and p.size_lots > 0
            ),
            0,
        )
        return {
            "symbol": market.units.symbol_id,
            "openInterest": plain(longs * market.step_size),
            "time": self.market_clock_ms(),
        }

    def _fee_rates(self, market: Any) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates: the book's pips; a pool's fee is inside its price."""
        if isinstance(market, PoolMarket):
            return Decimal(0), Decimal(0)
        book = market.book
        return Decimal(book.maker_fee_pips) / PIPS, Decimal(book.taker_fee_pips) / PIPS

    def _commission(self, params: dict[str, str], kind: str, view: str) -> Any:
        market = self.engine.market(P.symbol(params), kind, view)  # type: ignore[arg-type]
        maker, taker = self._fee_rates(market)
        if kind == "perp":
            return {
                "symbol": market.units.symbol_id,
                "makerCommissionRate": plain(maker),
                "takerCommissionRate": plain(taker),
            }
        rates = {"maker": plain(maker), "taker": plain(taker), "buyer": "0", "seller": "0"}
        return {
            "symbol": market.units.symbol_id,
            "standardCommission": rates,
            "specialCommission": {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"},
            "taxCommission": {"maker": "0", "taker": "0", "buyer": "0", "seller": "0"},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": "0",
            },
        }

    def _commission_spot(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._commission(params, "spot", view)

    def _commission_perp(self, params: dict[str, str], account: str, view: str = "") -> Any:
        return self._commission(params, "perp", view)

    def _trade_fees(self, params: dict[str, str], account: str, view: str = "") -> list[Any]:
        """GET /sapi/v1/asset/tradeFee: maker and taker rates per spot symbol."""
        rows = []
        for m in self._selected(params, "spot", view):
            maker, taker = self._fee_rates(m)
            rows.append(
                {
                    "symbol": m.units.symbol_id,
                    "makerCommission": plain(maker),
                    "takerCommission": plain(taker),
                }
            )
        return rows
