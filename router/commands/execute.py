"""`crossroute execute --config FILE --order FILE [--faults FILE] [--child-timeout SECS] [--json]
[--journal PATH]`: run a multi-leg order.

Wiring only: ``router.app`` builds the market (spot and perpetual venues) and the account's
cross-margin ledger and gate (:func:`router.app.build_margin`) from the config; this command runs
the order through ``router.execution`` and prints the report.

With ``--journal PATH`` every decision is appended to PATH; an order whose client id already has
an ``order_done`` record there is not traded again: its recorded report is printed. The journal is
a hash chain whose first entry per run records the run's inputs (:mod:`router.audit`); the head
hash (SHA-256 of the last entry) is printed at the end, and ``crossroute audit`` verifies it.

With ``--faults FILE`` the venues misbehave on schedule (:mod:`router.execution.faults`): the report
then shows what the order does when a venue rejects, times out, loses a reply, fills in part, hangs
or goes down, with ``venue_holdings`` as the venues' own books have them.

Exit status: 0 when the order ended filled, partial or unwound (hedged); 1 when it was rejected,
stopped, liquidated or unreconciled (the report says why and what exposure remains); 2 for a bad request or config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from router.app import DEFAULT_CONFIG, Market, load_market
from router.audit import ExecutionProtection, run_recorded
from router.commands import inputs
from router.commands.route import add_protection_arguments, band_bps_of, fixed_cost_share_of
from router.execution.executor import DEFAULT_CHILD_TIMEOUT_SECS
from router.execution.faults import Fault, load_faults
from router.execution.journal import (
    ChainKey,
    DecisionJournal,
    StepClock,
    encode_record,
    load_chain_key,
    read_journal,
)
from router.execution.order import MultiLegOrder, load_order
from router.model.errors import ExecutionError
from router.plan import fmt_qty
from venues.values import parse_positive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        action="append",
        metavar="FILE",
        help="market TOML (default: the embedded default, which has the ETH/USDC:USDC perp and "
        "[margin]); repeat to layer files read as one document",
    )
    parser.add_argument("--order", required=True, help="order TOML ([order] and [[legs]])")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--journal", metavar="PATH", help="append the decision journal (JSON lines) to PATH"
    )
    parser.add_argument(
        "--faults",
        metavar="FILE",
        help="inject the venue faults of FILE ([[faults]] venue, kind, after, share, bps) between "
        "the executor and the simulated venues",
    )
    add_protection_arguments(parser)
    parser.add_argument(
        "--child-timeout",
        metavar="SECS",
        default=str(DEFAULT_CHILD_TIMEOUT_SECS),
        help="seconds to wait for each child order and each status query "
        f"(default {DEFAULT_CHILD_TIMEOUT_SECS})",
    )


def run(args: argparse.Namespace) -> int:
    child_timeout = parse_positive(
        "--child-timeout", args.child_timeout, maximum=3600, max_scale=3, kind="seconds"
    )
    # The market first: its [protection] table gives what neither the flags nor the order set.
    market = load_market(args.config or [DEFAULT_CONFIG])
    defaults = market.config.protection
    protection = ExecutionProtection(
        band_bps_of(args, defaults), fixed_cost_share_of(args, defaults)
    )
    order = load_order(args.order, defaults.unwind_band_bps)
    key = load_chain_key()
    if args.journal:
        inputs.writable_file("--journal", args.journal)
        previous = _previous_report(Path(args.journal), order)
        if previous is not None:
            head = key.head_of_file(args.journal)
            print_report({**previous, "journal_head": head}, args.json, replay=True)
            return 0
    faults = load_faults(args.faults, market.adapters) if args.faults else ()
    report = execute_order(
        market,
        order,
        journal_path=args.journal,
        faults=faults,
        child_timeout_secs=child_timeout,
        protection=protection,
        key=key,
    )
    print_report(report, args.json, replay=False)
    return 0 if report["status"] in ("filled", "partial", "unwound") else 1


def execute_order(
    market: Market,
    order: MultiLegOrder,
    *,
    journal_path: str | Path | None = None,
    faults: Sequence[Fault] = (),
    child_timeout_secs: Decimal = DEFAULT_CHILD_TIMEOUT_SECS,
    protection: ExecutionProtection | None = None,
    key: ChainKey | None = None,
) -> dict[str, Any]:
    """Run ``order`` on ``market`` (its venues change) for the order's account, with that account's
    margin from :func:`router.app.build_margin`, and return the report as JSON-ready data (decimal
    strings). One journal, on a step clock, records the run's inputs, the margin setup, every check
    and booking of the margin core and every executor decision; with ``journal_path`` it is
    appended there. ``faults`` are injected between the executor and the venues.
    ``key`` links the journal's chain (HMAC-SHA256; None: SHA-256). ``journal_head`` in the
    result is the run's head: the link of its last entry."""
    journal = DecisionJournal(journal_path, clock=StepClock(), key=key)
    report = run_recorded(
        market,
        order,
        journal,
        faults=faults,
        child_timeout_secs=child_timeout_secs,
        protection=protection,
    )
    return {**json.loads(encode_record(report.to_json_dict())), "journal_head": journal.head}


# -- idempotency through the journal -------------------------------------------------------------


def _previous_report(path: Path, order: MultiLegOrder) -> dict[str, Any] | None:
    """The recorded report of ``order.client_id`` in the journal at ``path``, if it ran before."""
    if not path.exists():
        return None
    wanted = json.loads(encode_record(order.to_json_dict()))
    seen_order = None
    for record in read_journal(path):
        if record.get("client_id") != order.client_id:
            continue
        if record.get("event") == "order_received":
            seen_order = record.get("order")
        elif record.get("event") == "order_done":
            if seen_order is not None and seen_order != wanted:
                raise ExecutionError(
                    f"client_id={order.client_id!r} was already used for a different order "
                    f"in {path}; allowed: a new client id",
                    field="client_id",
                    value=order.client_id,
                    allowed="a client id not used for another order",
                )
            return record.get("report")
    return None


# -- output --------------------------------------------------------------------------------------


def print_report(report: dict[str, Any], as_json: bool, *, replay: bool) -> None:
    """Print an execution report: one JSON object (``replayed`` added), or rich tables."""
    if as_json:
        out = dict(report)
        out["replayed"] = replay
        sys.stdout.write(json.dumps(out, sort_keys=True) + "\n")
        return
    from router.commands.render import console

    render_report(console(), report, replay=replay)


NOTHING = "-"  # a figure the report does not have (no fill, no limit, no size)


def _shown(value: Any) -> str:
    """A figure of the JSON report as it is, or :data:`NOTHING` for None (never "None")."""
    return NOTHING if value is None else str(value)


def _qty(value: Any) -> str:
    """A quantity of the JSON report for people: "10.000000000000000000" -> "10"; text as it is."""
    try:
        return fmt_qty(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def render_report(console: Any, report: dict[str, Any], *, replay: bool = False) -> None:
    """Render an execution report on a rich ``console``: status line, legs, child orders (the
    fills), margin before/after, capital saved by cross margin, residual exposure, hedges."""
    from router.commands.render import show, table

    title = f"order {report['client_id']}: {report['status']}"
    if replay:
        title += " (already executed; recorded report)"
    console.print(title + (f" - {report['reason']}" if report.get("reason") else ""))
    numeric = ("target", "filled", "avg price", "quote amount", "fees", "qty", "limit")
    legs = table(
        "legs (in execution order)",
        [
            (column, column in numeric)
            for column in (
                "leg",
                "role",
                "instrument",
                "symbol",
                "side",
                "target",
                "filled",
                "avg price",
                "quote amount",
                "fees",
                "status",
            )
        ],
    )
    for leg in report["legs"]:
        if leg["target_qty"] is not None:
            target = _qty(leg["target_qty"])
        elif leg["target_quote"] is not None:
            target = f"{_qty(leg['target_quote'])} quote"
        else:  # a hedge never sized: its leader's fills never came (skipped)
            target = NOTHING
        legs.add(
            leg["id"],
            leg["role"],
            leg["instrument"],
            leg["symbol"],
            leg["side"],
            target,
            _qty(leg["filled_qty"]),
            _shown(leg["avg_price"]),
            leg["quote_amount"],
            leg["fee"],
            leg["status"],
        )
    show(console, legs)
    fills = table(
        "child orders",
        [
            (column, column in numeric)
            for column in (
                "client order id",
                "venue",
                "qty",
                "limit",
                "filled",
                "quote amount",
                "status",
                "reason",
            )
        ],
    )
    for leg in report["legs"]:
        for child in leg["children"]:
            fills.add(
                child["client_order_id"],
                child["venue"],
                _qty(child["qty"]),
                _shown(child["limit_price"]),
                _qty(child["filled_qty"]),
                child["quote_amount"],
                child["status"],
                child["reason"],
            )
    show(console, fills)
    if report.get("multihop"):
        render_hops(console, report["multihop"])
    margin = table("margin (quote)", [("", False), ("before", True), ("after", True)])
    for key in ("equity", "initial_margin", "maintenance_margin", "headroom"):
        margin.add(key, report["margin_before"].get(key, ""), report["margin_after"].get(key, ""))
    show(console, margin)
    eff = report["capital_efficiency"]
    console.print(
        f"margin requirement: cross {eff['cross_requirement']} vs isolated"
        f" {eff['isolated_requirement']} -> netting saves {eff['saved']}"
    )
    exposure = ", ".join(
        f"{asset} {_qty(qty)}" for asset, qty in report["residual_exposure"].items()
    )
    console.print(
        f"residual exposure: {exposure or 'none'}"
        + ("" if report["hedged"] else " (UNHEDGED: see hedges)")
    )
    held = report.get("venue_holdings") or {}
    console.print(
        "venue holdings (the venues' own books): "
        + (
            ", ".join(
                f"{venue} "
                + (
                    "UNKNOWN (no answer)"
                    if assets is None
                    else " ".join(f"{a} {_qty(q)}" for a, q in assets.items())
                )
                for venue, assets in held.items()
            )
            or "none"
        )
    )
    for entry in report.get("unknown_exposure") or []:
        unanswered = ", ".join(
            f"{c['client_order_id']} {c['side']} {_qty(c['qty'])}" for c in entry["unanswered"]
        )
        console.print(
            f"UNKNOWN EXPOSURE on {entry['venue']}: confirmed {entry['asset']} "
            f"{_qty(entry['confirmed_qty'])}; never answered for: {unanswered or 'none'}"
        )
    for leg_id, protection in (report.get("protection") or {}).items():
        mode = protection["mode"]
        console.print(
            f"protection {leg_id}: "
            + (
                "none (--no-limit)"
                if mode == "none"
                else f"limit {protection['limit_price']}"
                if mode == "limit"
                else f"{protection['band_bps']} bps band around the arrival mid "
                f"{protection['arrival_mid']} -> limit {protection['limit_price']}"
            )
        )
    for adjustment in report.get("plan_adjustments") or []:
        console.print(
            f"plan adjusted before trading: {adjustment['leg']} shrunk from "
            f"{_qty(adjustment['planned_qty'])} to {_qty(adjustment['qty'])} because "
            f"{', '.join(adjustment['because'])} could not absorb it within the limit"
        )
    for hedge in report["hedges"]:
        console.print(
            f"hedge {hedge['leg']} follows {hedge['follows']} x {hedge['ratio']}: leader "
            f"{_qty(hedge['leader_net_qty'])}, hedge {_qty(hedge['hedge_net_qty'])}, "
            f"unhedged {_qty(hedge['unhedged_qty'])}"
        )
    if report.get("journal_head"):
        # the SHA-256 of the journal's last entry: `crossroute audit --head` checks the file against it
        console.print(f"journal head {report['journal_head']}")


def render_hops(console: Any, multihop: dict[str, Any]) -> None:
    """A multi-hop order's hops in execution order, as planned and as done, and its inventory."""
    from router.commands.render import show, table

    hops = table(
        f"hops ({multihop['from']} -> {multihop['to']}, {_qty(multihop['qty'])} {multihop['from']})",
        [
            (column, column.startswith(("planned", "in", "out")))
            for column in (
                "#",
                "role",
                "path",
                "step",
                "venue",
                "trade",
                "planned in",
                "in",
                "planned out",
                "out",
                "status",
            )
        ],
    )
    for hop in multihop["hops"]:
        hops.add(
            str(hop["n"]),
            hop["role"],
            str(hop["path"]),
            str(hop["step"]),
            hop["venue"],
            f"{hop['from']} -> {hop['to']} ({hop['side']} {hop['symbol']})",
            _qty(hop["planned_in"]),
            _qty(hop["amount_in"]),
            _qty(hop["planned_out"]),
            _qty(hop["amount_out"]),
            hop["status"],
        )
    show(console, hops)
    console.print(
        "inventory change: "
        + (", ".join(f"{a} {_qty(q)}" for a, q in multihop["inventory"].items()) or "none")
    )


__all__ = ["add_arguments", "execute_order", "print_report", "render_hops", "render_report", "run"]
