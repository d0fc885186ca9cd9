"""What of each stateful object the paper service snapshots is state, and what is wiring.

One table for the objects of other packages (venues, the margin ledger, the venue server) and the
simulator; the service's own records are dataclasses and declare themselves
(router/paper/desk.py, router/paper/views.py). ``state`` attributes are saved and restored;
``wiring`` attributes are set when the service is built from its config and never change (the
venue's grid and fees, references to other live objects, clocks). A class gaining an attribute
that is in neither list stops the service from starting (router/paper/snapshot.py), so this
table is updated together with the class: tests/unit/router/paper/test_paper_snapshots.py.
"""

from __future__ import annotations

from router.execution.faults import FaultInjectingVenue
from router.margin.ledger import MarginLedger
from router.paper.journal import PaperJournal
from router.paper.market import MarketSimulator
from router.paper.snapshot import Declaration
from router.paper.venue import RecordedEngine
from router.server.accounts import Ledger as ServerLedger
from venues.amm import ConstantProductPool
from venues.clmm.pool import ConcentratedLiquidityPool
from venues.orderbook import OrderBook

__all__ = ["DECLARED"]

DECLARED: dict[type, Declaration] = {
    MarketSimulator: Declaration(
        state=(
            "tick",
            "refs",
            "premium_e8",
            "premium_sums",
            "_maker_slots",
            "_maker_center",
            "_order_counter",
        ),
        wiring=(
            "market",
            "ledger",
            "perp_markets",
            "params",
            "instruments",
            "replay",
            "replay_symbol",
            "derived",
        ),
    ),
    MarginLedger: Declaration(
        state=(
            "accounts",
            "assets",
            "breaches",
            "funding_index",
            "holders",
            "market_sizes",
            "markets",
            "marks",
            "net_deposits",
            "other",
            "subs",
        ),
        wiring=(
            "journal",
            "order_cancel_hooks",
            "quote_asset",
            "liquidation_fee_bps",
            "liquidation_buffer_bps",
        ),
    ),
    PaperJournal: Declaration(
        state=("_lines", "_last_t_ns", "_head"),
        wiring=("_clock", "_path", "_start", "path", "key"),
    ),
    OrderBook: Declaration(
        state=(
            "_ask_levels",
            "_ask_prices",
            "_best_ask",
            "_best_bid",
            "_bid_levels",
            "_bid_prices",
            "_cash_quanta",
            "_fees_quanta",
            "_fill_seq",
            "_ids",
            "_order_seq",
            "_orders",
            "_position_lots",
        ),
        wiring=(
            "_kind",
            "_lot_ce",
            "_lot_ratio",
            "_lot_size",
            "_maker_fee_pips",
            "_min_notional",
            "_min_notional_quanta",
            "_quantum_ce",
            "_stp",
            "_symbol",
            "_taker_fee_pips",
            "_tick_ce",
            "_tick_ratio",
            "_tick_size",
        ),
    ),
    ConstantProductPool: Declaration(
        state=(
            "_balances",
            "_fee_to",
            "_k_last",
            "_price0_cumulative_last",
            "_price1_cumulative_last",
            "_reserve0",
            "_reserve1",
            "_timestamp",
            "_total_supply",
        ),
        wiring=("_fee_pips",),
    ),
    ConcentratedLiquidityPool: Declaration(
        state=(
            "_bitmap",
            "_memo",
            "_positions",
            "_ticks",
            "balance0",
            "balance1",
            "fee_growth_global0_x128",
            "fee_growth_global1_x128",
            "fee_protocol",
            "liquidity",
            "protocol_fees",
            "sqrt_price_x96",
            "tick",
        ),
        wiring=("fee_pips", "max_liquidity_per_tick", "tick_spacing"),
    ),
    RecordedEngine: Declaration(
        state=(
            "orders",
            "_by_book_id",
            "_client_ids",
            "trades",
            "tape",
            "_next_order_id",
            "_next_trade_id",
            "leverage",
            "hedge_mode",
        ),
        wiring=("by_name", "views", "ledger", "clock_ms", "recorder"),
    ),
    FaultInjectingVenue: Declaration(
        state=("children", "_silent"),
        # _market: the schedule's shared MarketMoves (None without a move fault), rebuilt from
        # the faults file like the rest of the schedule
        wiring=("inner", "name", "symbol", "leg_cost", "_by_child", "_lasting_from", "_market"),
    ),
    ServerLedger: Declaration(
        state=("_accounts", "_free", "_locked", "_perp_wallets", "positions"),
        wiring=("_decimals",),
    ),
}
