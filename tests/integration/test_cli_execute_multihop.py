"""`crossroute execute` with a multi-hop leg (``from``/``to`` assets) on the default market:
planned by router.routing, run hop by hop with the margin check before every child, the
intermediate inventory tracked exactly, a failed hop's intermediate asset reported as residual
exposure and the order's policy (unwind | stop) applied to it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ZERO = Decimal(0)
ORDER = """
[order]
client_id = "mh-{policy}"
account = "desk-a"
on_hedge_failure = "{policy}"

[[legs]]
id = "eth-wbtc"
from = "ETH"
to = "WBTC"
qty = "{qty}"
max_hops = 2
"""
# the second hop of the ETH -> USDC -> WBTC path: its venue refuses every child of the 3 rounds
REJECT_SECOND_HOP = "".join(
    f'[[faults]]\nvenue = "uni-v3-wbtc-usdc"\nkind = "reject"\nafter = {n}\n' for n in range(3)
)


def execute(capsys, tmp_path: Path, *, policy: str = "unwind", qty: str = "10", faults: str = ""):
    order = tmp_path / "order.toml"
    order.write_text(ORDER.format(policy=policy, qty=qty))
    journal = tmp_path / "journal.jsonl"
    argv = ["execute", "--order", str(order), "--json", "--journal", str(journal)]
    if faults:
        (tmp_path / "faults.toml").write_text(faults)
        argv += ["--faults", str(tmp_path / "faults.toml")]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err, journal


def check_inventory(report: dict) -> dict[str, Decimal]:
    """The inventory is exactly the sum of the hops as done, and each hop as done is exactly
    its leg's fills; the residual exposure is the inventory of the intermediate assets."""
    hops = report["multihop"]["hops"]
    legs = {leg["id"].rsplit(".", 1)[1]: leg for leg in report["legs"]}
    inventory: dict[str, Decimal] = {}
    for hop in hops:
        leg = legs.get(hop["client_id"].rsplit(".", 1)[1])
        if leg is not None:
            base, quote = Decimal(leg["filled_qty"]), Decimal(leg["quote_amount"])
            spent, got = (base, quote) if hop["side"] == "sell" else (quote, base)
            assert (Decimal(hop["amount_in"]), Decimal(hop["amount_out"])) == (spent, got)
        inventory[hop["from"]] = inventory.get(hop["from"], ZERO) - Decimal(hop["amount_in"])
        inventory[hop["to"]] = inventory.get(hop["to"], ZERO) + Decimal(hop["amount_out"])
    reported = {a: Decimal(q) for a, q in report["multihop"]["inventory"].items()}
    assert reported == inventory
    middle = {a: q for a, q in inventory.items() if a not in ("ETH", "WBTC")}
    assert {a: Decimal(q) for a, q in report["residual_exposure"].items()} == middle
    return inventory


def test_a_two_hop_path_runs_hop_by_hop_with_a_margin_check_before_every_child(
    capsys, tmp_path: Path
) -> None:
    code, report, err, journal = execute(capsys, tmp_path)
    assert code == 0, err
    assert report["status"] == "filled", report["reason"]
    hops = report["multihop"]["hops"]
    assert max(hop["step"] for hop in hops) == 2  # through USDC
    assert [hop["from"] for hop in hops if hop["step"] == 2] == ["USDC"]
    inventory = check_inventory(report)
    assert -inventory["ETH"] <= Decimal(10) and inventory["WBTC"] > 0
    # what the USDC hop spent is what the ETH -> USDC hop delivered, to the grid's dust
    into_usdc = sum(Decimal(h["amount_out"]) for h in hops if h["to"] == "USDC")
    out_of_usdc = sum(Decimal(h["amount_in"]) for h in hops if h["from"] == "USDC")
    assert ZERO <= into_usdc - out_of_usdc < Decimal("0.01")
    # the margin core checked every child before it was sent, each hop a one-leg order
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    children = [r for r in records if r.get("event") == "child_order"]
    checks = [r for r in records if r.get("event") == "margin_check"]
    assert children and len(checks) >= len(children)
    assert {r["client_id"] for r in children} == {h["client_id"] for h in hops}


@pytest.mark.parametrize("policy", ["stop", "unwind"])
def test_a_failed_hop_leaves_its_intermediate_as_residual_and_the_policy_applies(
    capsys, tmp_path: Path, policy: str
) -> None:
    code, report, err, _ = execute(capsys, tmp_path, policy=policy, faults=REJECT_SECOND_HOP)
    hops = report["multihop"]["hops"]
    failed = [h for h in hops if h["venue"] == "uni-v3-wbtc-usdc"]
    assert failed and failed[0]["status"] != "filled" and Decimal(failed[0]["amount_out"]) == 0
    inventory = check_inventory(report)
    usdc_bought = sum(Decimal(h["amount_out"]) for h in hops if h["to"] == "USDC")
    assert usdc_bought > 0
    if policy == "stop":
        assert code == 1 and report["status"] == "stopped", err
        assert Decimal(report["residual_exposure"]["USDC"]) == usdc_bought
        assert "policy stop" in report["reason"]
        assert not [h for h in hops if h["role"] == "unwind"]
    else:
        unwinds = [h for h in hops if h["role"] == "unwind"]
        assert unwinds and unwinds[0]["from"] == "USDC" and unwinds[-1]["to"] == "ETH"
        # converted back: what is left is below one unit of the grid of a pool's quote
        assert ZERO <= inventory["USDC"] < Decimal("0.01")
        assert report["status"] in ("unwound", "stopped") and code in (0, 1)
        assert (report["status"] == "unwound") == (inventory["USDC"] == 0)


def test_audit_replays_a_multihop_run(capsys, tmp_path: Path) -> None:
    code, _, err, journal = execute(capsys, tmp_path, faults=REJECT_SECOND_HOP)
    assert code in (0, 1), err
    root = Path(__file__).resolve().parents[2]
    code = main(["audit", "--journal", str(journal), "--config", str(root / "config/default.toml")])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("verified"), out + err


@pytest.mark.parametrize(
    "extra, key",
    [
        ('symbol = "ETH/USDC"\n', "legs[0].symbol"),
        ('quote_qty = "5"\n', "legs[0].quote_qty"),
        ("max_hops = 4\n", "legs[0].max_hops"),
    ],
)
def test_bad_multihop_legs_exit_2_naming_the_key(
    capsys, tmp_path: Path, extra: str, key: str
) -> None:
    order = tmp_path / "order.toml"
    order.write_text(ORDER.format(policy="stop", qty="1").replace("max_hops = 2\n", "") + extra)
    code = main(["execute", "--order", str(order), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and key in err and len(err.strip().splitlines()) == 1, err


def test_an_unknown_asset_exits_2_before_anything_trades(capsys, tmp_path: Path) -> None:
    order = tmp_path / "order.toml"
    order.write_text(ORDER.format(policy="stop", qty="1").replace('"WBTC"', '"DOGE"'))
    code = main(["execute", "--order", str(order), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "to='DOGE'" in err, err
