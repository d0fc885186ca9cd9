"""`crossroute execute --faults FILE`: scheduled venue faults through the CLI, reconciled against
the venues' own books, replayed by `crossroute audit`, and bad fault files refused in one line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")
BASIS = str(ROOT / "config" / "examples" / "basis-order.toml")


def execute(capsys, tmp_path: Path, faults: str, *extra: str) -> tuple[int, dict, str]:
    path = tmp_path / "faults.toml"
    path.write_text(faults)
    code = main(
        ["execute", "--config", DEFAULT, "--order", BASIS, "--faults", str(path), "--json", *extra]
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def sums_hold(report: dict) -> None:
    known = [h for h in report["venue_holdings"].values() if h is not None]
    total = sum((Decimal(h.get("ETH", "0")) for h in known), Decimal(0))
    assert Decimal(report["residual_exposure"]["ETH"]) == total


def test_lost_reply_on_the_leader_is_reconciled_and_hedged(capsys, tmp_path: Path) -> None:
    faults = '[[faults]]\nvenue = "uni-v3-5"\nkind = "lost_reply"\nafter = 0\n'
    code, report, err = execute(capsys, tmp_path, faults, "--child-timeout", "0.2")
    assert code == 0, err
    assert report["status"] == "filled" and report["hedged"], report["reason"]
    lost = [c for leg in report["legs"] for c in leg["children"] if c["fault"]]
    assert lost and lost[0]["status"] == "filled" and "reconciled" in lost[0]["reason"]
    assert Decimal(report["venue_holdings"]["perp-book"]["ETH"]) == -10
    assert Decimal(report["residual_exposure"]["ETH"]) == 0
    sums_hold(report)


def test_hanging_hedge_venue_is_unknown_exposure_and_exits_1(capsys, tmp_path: Path) -> None:
    faults = '[[faults]]\nvenue = "perp-book"\nkind = "hang"\n'
    code, report, err = execute(capsys, tmp_path, faults, "--child-timeout", "0.05")
    assert code == 1, err
    assert report["status"] == "unreconciled" and "perp-book" in report["reason"]
    assert report["venue_holdings"]["perp-book"] is None
    (entry,) = report["unknown_exposure"]
    assert entry["venue"] == "perp-book" and Decimal(entry["unanswered"][0]["qty"]) == 10
    assert Decimal(report["residual_exposure"]["ETH"]) == 10  # the spot the venues confirm
    sums_hold(report)


def test_partial_and_down_faults_still_report_the_books(capsys, tmp_path: Path) -> None:
    faults = (
        '[[faults]]\nvenue = "perp-book"\nkind = "partial"\nshare = "0.4"\n'
        '[[faults]]\nvenue = "perp-book"\nkind = "down"\nafter = 1\n'
    )
    code, report, _ = execute(capsys, tmp_path, faults, "--child-timeout", "0.05")
    assert report["status"] == "unwound", report["reason"]
    assert Decimal(report["venue_holdings"]["perp-book"]["ETH"]) == -4
    assert Decimal(report["residual_exposure"]["ETH"]) == 0 and code == 0
    sums_hold(report)


def test_audit_replays_a_faulted_run(capsys, tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    faults = '[[faults]]\nvenue = "uni-v3-5"\nkind = "lost_reply"\n'
    code, _, err = execute(
        capsys, tmp_path, faults, "--child-timeout", "0.2", "--journal", str(journal)
    )
    assert code == 0, err
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["faults"] == [{"after": 0, "kind": "lost_reply", "venue": "uni-v3-5"}]
    code = main(["audit", "--journal", str(journal), "--config", DEFAULT, "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["verified"], out


@pytest.mark.parametrize(
    ("faults", "extra", "needle"),
    [
        ('[[faults]]\nvenue = "nowhere"\nkind = "hang"\n', (), "faults[0].venue"),
        ('[[faults]]\nvenue = "perp-book"\nkind = "slow"\n', (), "faults[0].kind"),
        ('[[faults]]\nvenue = "perp-book"\nkind = "partial"\nshare = "2"\n', (), "share"),
        ("[[faults]\n", (), "valid TOML"),
        ("", ("--child-timeout", "1e3"), "--child-timeout"),
        ("", ("--child-timeout", "0"), "--child-timeout"),
    ],
)
def test_bad_faults_are_one_line_and_exit_2(capsys, tmp_path: Path, faults, extra, needle) -> None:
    code, report, err = execute(capsys, tmp_path, faults, *extra)
    assert code == 2 and report == {}
    assert err.count("\n") == 1 and needle in err, err
