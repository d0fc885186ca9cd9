"""`--max-hops 3` through the CLI: `crossroute route` takes the three-hop path where it wins
(config/examples/three-hops.toml: ETH -> USDT -> DAI -> USDC beats the thin direct and two-hop
routes), each trade feeding the next exactly; `crossroute execute` runs a three-hop plan whose
paths share a trade (the default market's WBTC -> USDT: WBTC -> USDC -> USDT and
WBTC -> ETH -> USDC -> USDT share the USDC/USDT book) as a DAG, every trade as planned."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "three-hops.toml"
ORDER = """
[order]
client_id = "three-hops"
account = "desk-a"
on_hedge_failure = "unwind"

[[legs]]
id = "wbtc-usdt"
from = "WBTC"
to = "USDT"
qty = "0.3"
max_hops = 3
"""


def route(capsys, *extra: str) -> dict:
    code = main(["route", "--config", str(EXAMPLE), "--from", "ETH", "--to", "USDC", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_max_hops_3_takes_the_three_hop_path_where_it_wins(capsys) -> None:
    three = route(capsys, "--qty", "50", "--max-hops", "3", "--json")
    two = route(capsys, "--qty", "50", "--max-hops", "2", "--json")
    default = route(capsys, "--qty", "50", "--json")
    assert default == two  # two hops unless asked
    assert [p["assets"] for p in three["paths"]] == [["ETH", "USDT", "DAI", "USDC"]]
    assert Decimal(three["amount_out"]) > Decimal(two["amount_out"])
    assert Decimal(three["amount_in"]) == Decimal(50)
    # one path: each trade's output is exactly the next one's input
    trades = three["trades"]
    assert [t["step"] for t in trades] == [1, 2, 3]
    for before, after in zip(trades, trades[1:]):
        assert before["to"] == after["from"]
        assert Decimal(before["amount_out"]) == Decimal(after["amount_in"])
    assert Decimal(trades[-1]["amount_out"]) == Decimal(three["amount_out"])
    assert Decimal(three["duality_gap"]) <= Decimal("1e-9")
    assert three["path_search"]["method"] == "network"


def test_the_table_names_the_three_hop_path(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    code = main(
        ["route", "--config", str(EXAMPLE), "--from", "ETH", "--to", "USDC", "--qty", "50"]
        + ["--max-hops", "3"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "ETH->USDT->DAI->USDC" in out and "usdt-dai-pool" in out


def test_execute_runs_a_three_hop_plan_as_a_dag_every_trade_as_planned(
    capsys, tmp_path: Path
) -> None:
    order = tmp_path / "order.toml"
    order.write_text(ORDER)
    code = main(["execute", "--order", str(order), "--json", "--journal", str(tmp_path / "j")])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "filled", report["reason"]
    plan = report["multihop"]["plan"]
    trades, hops = plan["trades"], report["multihop"]["hops"]
    assert any(t["shared"] for t in trades)  # a trade that two paths cross, run once
    assert [(h["venue"], h["step"]) for h in hops] == [(t["venue"], t["step"]) for t in trades]
    for hop, trade in zip(hops, trades):
        assert hop["status"] == "filled"
        assert Decimal(hop["amount_in"]) == Decimal(trade["amount_in"])
        # the venue's exact output, on the ledger's grid
        assert abs(Decimal(hop["amount_out"]) - Decimal(trade["amount_out"])) < Decimal("1e-8")
    inventory = {a: Decimal(q) for a, q in report["multihop"]["inventory"].items()}
    assert inventory["WBTC"] == Decimal("-0.3")
    assert inventory["USDT"] == Decimal(plan["amount_out"])
    # what the trades left at the intermediates is the residual exposure, reported
    middle = {a: q for a, q in inventory.items() if a not in ("WBTC", "USDT") and q}
    assert {a: Decimal(q) for a, q in report["residual_exposure"].items()} == middle


def test_a_failed_shared_trade_leaves_its_intermediates_as_residual_exposure(
    capsys, tmp_path: Path
) -> None:
    # the USDC/USDT book (the trade both paths share) refuses every child: policy stop
    order = tmp_path / "order.toml"
    order.write_text(ORDER.replace('"unwind"', '"stop"'))
    faults = tmp_path / "faults.toml"
    faults.write_text(
        "".join(
            f'[[faults]]\nvenue = "binance-usdcusdt"\nkind = "reject"\nafter = {n}\n'
            for n in range(3)
        )
    )
    argv = ["execute", "--order", str(order), "--json", "--faults", str(faults)]
    code = main([*argv, "--journal", str(tmp_path / "j")])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1, err
    assert report["status"] == "stopped", report["reason"]
    inventory = {a: Decimal(q) for a, q in report["multihop"]["inventory"].items()}
    held = {a: q for a, q in inventory.items() if a not in ("WBTC", "USDT") and q}
    assert held["USDC"] > 0  # what both paths delivered to the shared trade, still held
    assert {a: Decimal(q) for a, q in report["residual_exposure"].items()} == held
    assert "binance-usdcusdt" in report["reason"] and "policy stop" in report["reason"]
