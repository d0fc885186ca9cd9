"""The market's [protection] table through the CLI: route and execute take their default band and
fixed-cost share from it, orders their unwind band; the flags still win; a bad table exits 2."""

from __future__ import annotations

import json
from pathlib import Path

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")
BASIS = str(ROOT / "config" / "examples" / "basis-order.toml")

UNLIMITED = """
[order]
client_id = "c1"
[[legs]]
id = "spot"
symbol = "ETH/USDC"
side = "buy"
qty = "1"
"""


def layer(tmp_path: Path, table: str) -> str:
    path = tmp_path / "protection.toml"
    path.write_text(f"[protection]\n{table}\n")
    return str(path)


def run(capsys, args: list[str]) -> tuple[int, dict, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def test_route_takes_the_band_from_the_config_and_the_flag_wins(capsys, tmp_path: Path) -> None:
    market = tmp_path / "market.toml"  # route reads one file: the default market plus the table
    market.write_text(Path(DEFAULT).read_text() + "\n[protection]\nband_bps = 25\n")
    route = ["route", "--config", str(market), "--symbol", "ETH/USDC"]
    code, plan, err = run(capsys, [*route, "--side", "buy", "--qty", "1", "--json"])
    assert code == 0, err
    assert plan["protection"]["mode"] == "band" and plan["protection"]["band_bps"] == 25
    code, plan, err = run(
        capsys, [*route, "--side", "buy", "--qty", "1", "--band-bps", "60", "--json"]
    )
    assert code == 0, err
    assert plan["protection"]["band_bps"] == 60


def test_execute_takes_band_share_and_unwind_band_from_the_config(capsys, tmp_path: Path) -> None:
    extra = layer(tmp_path, 'band_bps = 30\nunwind_band_bps = 45\nmax_fixed_cost_share = "0.02"')
    order = tmp_path / "o.toml"
    order.write_text(UNLIMITED)
    journal = tmp_path / "j.jsonl"
    args = ["execute", "--config", DEFAULT, "--config", extra, "--order", str(order)]
    code, report, err = run(capsys, [*args, "--journal", str(journal), "--json"])
    assert code == 0, err
    assert report["protection"]["spot"]["band_bps"] == 30
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["protection"] == {"band_bps": 30, "max_fixed_cost_share": "0.02"}
    assert header["order"]["unwind_band_bps"] == 45
    # the audit replays the run with what its header recorded
    code, audit, err = run(
        capsys,
        ["audit", "--journal", str(journal), "--config", DEFAULT, "--config", extra, "--json"],
    )
    assert code == 0 and audit["verified"], audit


def test_no_limit_still_lifts_a_configured_band(capsys, tmp_path: Path) -> None:
    extra = layer(tmp_path, "band_bps = 30")
    order = tmp_path / "o.toml"
    order.write_text(UNLIMITED)
    args = ["execute", "--config", DEFAULT, "--config", extra, "--order", str(order)]
    code, report, err = run(capsys, [*args, "--no-limit", "--json"])
    assert code == 0, err
    assert report["protection"]["spot"]["mode"] == "none"


def test_a_bad_protection_table_is_one_line_and_exit_2(capsys, tmp_path: Path) -> None:
    extra = layer(tmp_path, "band_bps = 0")
    code, report, err = run(
        capsys, ["execute", "--config", DEFAULT, "--config", extra, "--order", BASIS, "--json"]
    )
    assert code == 2 and report == {}
    assert err.count("\n") == 1 and "protection.band_bps" in err, err
