"""The netting-window story through the CLI (docs/api.md, "Netting windows"): a `move` fault makes
the BTC and ETH perps fall 6% after the BTC leg's child, so the marks move during `execute`.
With the order's window the ETH hedge on its way nets the loss and the order ends hedged; with
netting_window_ms = 0 the account is liquidated before the hedge is sent; without the move
nothing happens at all. The run is replayed by `crossroute audit` (the move is in its header)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples"
MARKET = str(EXAMPLES / "netting-market.toml")
ORDER = EXAMPLES / "netting-order.toml"
FAULTS = str(EXAMPLES / "netting-faults.toml")


def execute(
    capsys, tmp_path: Path, window_ms: int, *extra: str
) -> tuple[int, dict, list[dict], str]:
    text = ORDER.read_text()
    assert "netting_window_ms = 5000" in text
    order = tmp_path / "order.toml"
    order.write_text(text.replace("netting_window_ms = 5000", f"netting_window_ms = {window_ms}"))
    journal = tmp_path / "journal.jsonl"
    code = main(
        [
            "execute",
            "--config",
            MARKET,
            "--order",
            str(order),
            "--journal",
            str(journal),
            "--json",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    lines = journal.read_text().splitlines() if journal.exists() else []
    records = [json.loads(line) for line in lines]
    return code, (json.loads(out) if out else {}), records, err


def events(records: list[dict]) -> list[str]:
    return [r.get("event", "") for r in records]


def test_with_the_window_the_hedge_on_its_way_nets_the_move(capsys, tmp_path: Path) -> None:
    code, report, records, err = execute(capsys, tmp_path, 5000, "--faults", FAULTS)
    assert code == 0, err
    assert report["status"] == "filled" and report["hedged"]
    assert [(leg["id"], leg["status"], Decimal(leg["filled_qty"])) for leg in report["legs"]] == [
        ("long", "filled", 1),
        ("hedge", "filled", 30),
    ]
    marks = [r["marks"] for r in records if r.get("event") == "marks" and r["leg"] == "long"]
    assert marks[0] == {"BTC-PERP": "100000.00000000", "ETH-PERP": "3000.00000000"}
    # after the BTC child: the books moved 6% (the BTC mid is 94002.35: our buy took the best ask)
    assert marks[1] == {"BTC-PERP": "94002.35000000", "ETH-PERP": "2820.00000000"}
    netted = next(r for r in records if r.get("event") == "maintenance_netted")
    assert Decimal(netted["check"]["excess"]) < 0 <= Decimal(netted["check"]["excess_with_pending"])
    assert netted["pending"] and netted["window_ms"] == 5000 and netted["window_open"]
    assert "maintenance_breach" not in events(records) and "liquidated" not in events(records)
    exposure = {asset: Decimal(qty) for asset, qty in report["residual_exposure"].items()}
    assert exposure == {"BTC": 1, "ETH": -30}


def test_without_the_window_the_same_move_liquidates(capsys, tmp_path: Path) -> None:
    code, report, records, err = execute(capsys, tmp_path, 0, "--faults", FAULTS)
    assert code == 1, err
    assert report["status"] == "liquidated"
    assert [(leg["id"], leg["status"]) for leg in report["legs"] if leg["role"] == "leg"] == [
        ("long", "filled"),  # filled, then the check after its fill liquidated the account
        ("hedge", "skipped"),
    ]
    # the margin core's liquidation sold part of the long on the (moved) BTC book
    (sold,) = [leg for leg in report["legs"] if leg["role"] == "liquidation"]
    assert sold["symbol"] == "BTC/USDC:USDC" and sold["side"] == "sell"
    assert 0 < Decimal(sold["filled_qty"]) < 1
    breach = next(r for r in records if r.get("event") == "maintenance_breach")
    assert Decimal(breach["check"]["excess"]) < 0 and breach["pending"] == []
    assert breach["window_ms"] == 0 and not breach["window_open"]
    assert "liquidated" in events(records) and "child_order" in events(records)
    assert not [r for r in records if r.get("event") == "child_order" and r["leg"] == "hedge"]


@pytest.mark.parametrize("window_ms", [0, 5000])
def test_without_the_move_the_window_changes_nothing(capsys, tmp_path: Path, window_ms) -> None:
    code, report, records, err = execute(capsys, tmp_path, window_ms)
    assert code == 0, err
    assert report["status"] == "filled" and report["hedged"]
    assert not {"maintenance_netted", "maintenance_breach"} & set(events(records))


def test_audit_replays_the_moving_run(capsys, tmp_path: Path) -> None:
    code, _, records, err = execute(capsys, tmp_path, 5000, "--faults", FAULTS)
    assert code == 0, err
    assert records[0]["faults"] == [
        {"after": 1, "bps": -600, "kind": "move", "venue": "btc-perp"},
        {"after": 1, "bps": -600, "kind": "move", "venue": "eth-index-a"},
        {"after": 1, "bps": -600, "kind": "move", "venue": "eth-index-b"},
    ]
    code = main(
        ["audit", "--journal", str(tmp_path / "journal.jsonl"), "--config", MARKET, "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["verified"], out


@pytest.mark.parametrize(
    ("faults", "needle"),
    [
        ('[[faults]]\nvenue = "btc-perp"\nkind = "move"\n', "faults[0].bps"),
        ('[[faults]]\nvenue = "btc-perp"\nkind = "move"\nbps = 0\n', "faults[0].bps"),
        ('[[faults]]\nvenue = "btc-perp"\nkind = "move"\nbps = -10000\n', "faults[0].bps"),
        ('[[faults]]\nvenue = "btc-perp"\nkind = "reject"\nbps = 5\n', "faults[0].bps"),
    ],
)
def test_bad_moves_are_one_line_and_exit_2(capsys, tmp_path: Path, faults, needle) -> None:
    path = tmp_path / "faults.toml"
    path.write_text(faults)
    code, report, records, err = execute(capsys, tmp_path, 5000, "--faults", str(path))
    assert code == 2 and report == {} and records == []
    assert err.count("\n") == 1 and needle in err, err


def test_a_move_on_a_pool_is_refused_before_anything_runs(capsys, tmp_path: Path) -> None:
    path = tmp_path / "faults.toml"
    path.write_text('[[faults]]\nvenue = "uni-v2"\nkind = "move"\nbps = -100\n')
    journal = tmp_path / "journal.jsonl"
    basis = str(EXAMPLES / "basis-order.toml")
    args = ["execute", "--order", basis, "--faults", str(path), "--journal", str(journal)]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and not journal.exists()
    assert err.count("\n") == 1 and "order-book venue" in err, err


def test_the_text_report_never_prints_none(capsys, tmp_path: Path) -> None:
    # The skipped hedge has no size, no average price; the liquidation child has no limit.
    order = tmp_path / "order.toml"
    order.write_text(ORDER.read_text().replace("netting_window_ms = 5000", "netting_window_ms = 0"))
    code = main(["execute", "--config", MARKET, "--order", str(order), "--faults", FAULTS])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "liquidated" in out and "skipped" in out and "liquidation" in out
    assert "None" not in out, out
