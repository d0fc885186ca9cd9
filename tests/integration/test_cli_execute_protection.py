"""`crossroute execute` price protection through the CLI: the default band on legs without a
limit (stated per leg in the report), --no-limit, fixed-cost refusals, and one-line bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")

UNLIMITED = """
[order]
client_id = "u1"
[[legs]]
id = "spot"
symbol = "ETH/USDC"
side = "{side}"
qty = "{qty}"
venues = {venues}
"""


def execute(
    capsys, tmp_path: Path, side: str, qty: str, *extra: str, venues: str = "[]"
) -> tuple[int, dict, str]:
    path = tmp_path / "o.toml"
    path.write_text(UNLIMITED.format(side=side, qty=qty, venues=venues))
    code = main(["execute", "--config", DEFAULT, "--order", str(path), "--json", *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def test_a_leg_without_limit_trades_within_the_default_band(capsys, tmp_path: Path) -> None:
    code, report, err = execute(capsys, tmp_path, "sell", "2000")
    protection = report["protection"]["spot"]
    assert protection["mode"] == "band" and protection["band_bps"] == 100
    floor = Decimal(protection["limit_price"])
    assert report["status"] == "partial" and code == 0, err  # the band stops the dump
    (leg,) = report["legs"]
    assert Decimal(leg["avg_price"]) >= floor and Decimal(leg["filled_qty"]) < 2000
    for child in leg["children"]:
        assert Decimal(child["limit_price"]) >= floor


def test_no_limit_lifts_the_band_and_says_so(capsys, tmp_path: Path) -> None:
    code, report, err = execute(capsys, tmp_path, "sell", "50", "--no-limit")
    assert code == 0, err
    assert report["protection"]["spot"]["mode"] == "none"


def test_fixed_costs_above_the_share_refuse_the_order(capsys, tmp_path: Path) -> None:
    code, report, err = execute(
        capsys,
        tmp_path,
        "buy",
        "0.002",
        "--no-limit",
        "--max-fixed-cost-share",
        "0.01",
        venues='["uni-v2"]',  # a pool leg pays its gas whatever the size
    )
    assert code == 1 and report["status"] == "rejected", err
    assert "fixed costs" in report["reason"] and "of the notional" in report["reason"]
    assert report["venue_holdings"] == {} and report["legs"] == []


@pytest.mark.parametrize(
    "extra", [("--band-bps", "0"), ("--band-bps", "x"), ("--max-fixed-cost-share", "-1")]
)
def test_bad_protection_flags_are_one_line_exit_2(capsys, tmp_path: Path, extra) -> None:
    code, report, err = execute(capsys, tmp_path, "buy", "1", *extra)
    assert code == 2 and report == {} and err.count("\n") == 1, err
