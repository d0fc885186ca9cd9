"""`crossroute execute` of multi-hop legs books every hop in the margin core as what it moved:
a hop on a pair not quoted in the margin asset (ETH/USDT, USDC/USDT, ETH/WBTC) is a two-asset
swap of exactly the hop's amounts, not a USDC trade at the hop's price (router.margin.swap)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ORDER = """
[order]
client_id = "mh-margin"
account = "desk-a"
on_hedge_failure = "stop"

[[legs]]
id = "conv"
from = "{src}"
to = "{dst}"
qty = "{qty}"
max_hops = 2
"""


def execute(capsys, tmp_path: Path, src: str, dst: str, qty: str) -> tuple[dict, list[dict]]:
    order = tmp_path / "order.toml"
    order.write_text(ORDER.format(src=src, dst=dst, qty=qty))
    journal = tmp_path / "journal.jsonl"
    code = main(["execute", "--order", str(order), "--json", "--journal", str(journal)])
    out, err = capsys.readouterr()
    assert code == 0, err
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    return json.loads(out), records


def booked_swaps(records: list[dict]) -> list[tuple[str, Decimal, str, Decimal]]:
    return sorted(
        (
            r["swap"]["give_asset"],
            Decimal(r["swap"]["give"]),
            r["swap"]["get_asset"],
            Decimal(r["swap"]["get"]),
        )
        for r in records
        if r.get("event") == "apply_swap"
    )


@pytest.mark.parametrize(("src", "dst", "qty", "via"), [("ETH", "USDC", "50", "USDT")])
def test_a_route_through_usdt_is_checked_and_booked_asset_by_asset(
    capsys, tmp_path: Path, src: str, dst: str, qty: str, via: str
) -> None:
    report, records = execute(capsys, tmp_path, src, dst, qty)
    # the USDC/USDT hop used to be refused by the margin check (USDC is the margin asset)
    assert report["status"] == "filled", report["reason"]
    hops = report["multihop"]["hops"]
    assert via in {h["to"] for h in hops} and via in {h["from"] for h in hops}
    # every hop that is not a trade against USDC is booked as exactly the amounts it moved
    cross = sorted(
        (h["from"], Decimal(h["amount_in"]), h["to"], Decimal(h["amount_out"]))
        for h in hops
        if h["symbol"].split("/")[1] != "USDC"  # ETH/USDT and USDC/USDT: quoted in USDT
    )
    assert cross and booked_swaps(records) == cross
    # each of them was checked as a swap before its child was sent, and accepted
    checks = [r for r in records if r.get("event") == "check_swaps"]
    assert len(checks) >= len(cross) and all(r["result"]["accepted"] for r in checks)
    # what the margin core holds of the intermediate is what the hops left: the residual
    left = sum(Decimal(h["amount_out"]) for h in hops if h["to"] == via) - sum(
        Decimal(h["amount_in"]) for h in hops if h["from"] == via
    )
    assert Decimal(report["multihop"]["inventory"][via]) == left
    assert Decimal(report["residual_exposure"][via]) == left


def test_an_eth_to_wbtc_route_books_wbtc_not_usdc(capsys, tmp_path: Path) -> None:
    report, records = execute(capsys, tmp_path, "ETH", "WBTC", "10")
    assert report["status"] == "filled", report["reason"]
    hops = report["multihop"]["hops"]
    direct = [h for h in hops if h["symbol"] == "ETH/WBTC"]
    assert direct, hops
    swaps = booked_swaps(records)
    for hop in direct:
        assert ("ETH", Decimal(hop["amount_in"]), "WBTC", Decimal(hop["amount_out"])) in swaps
    # the WBTC hops never booked a USDC spot leg: only ETH/USDC and WBTC/USDC hops are legs
    legs = [r["leg"]["symbol"] for r in records if r.get("event") == "apply_leg"]
    assert len(legs) == sum(1 for h in hops if h["symbol"].endswith("/USDC"))
