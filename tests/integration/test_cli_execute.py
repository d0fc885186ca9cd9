"""`crossroute execute`: the basis trade out of the box, JSON and human output, the journal,
idempotent re-runs, and one-line errors with exit status 2."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")
SMALL = str(ROOT / "config" / "examples" / "small.toml")
BASIS = str(ROOT / "config" / "examples" / "basis-order.toml")
MARKET = ["--config", DEFAULT]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["execute", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_basis_trade_json_report(capsys) -> None:
    code, out, err = run(capsys, *MARKET, "--order", BASIS, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "filled" and report["hedged"] is True and report["replayed"] is False
    assert (
        report["residual_exposure"] == {"ETH": "0.000000000000000000"}
        or Decimal(report["residual_exposure"]["ETH"]) == 0
    )
    spot, perp = report["legs"]
    assert (spot["id"], perp["id"]) == ("spot-long", "perp-short")
    assert Decimal(spot["filled_qty"]) == 10 == Decimal(perp["filled_qty"])
    # legs sum exactly to their children
    for leg in report["legs"]:
        assert sum(Decimal(c["filled_qty"]) for c in leg["children"]) == Decimal(leg["filled_qty"])
        assert sum(Decimal(c["quote_amount"]) for c in leg["children"]) == Decimal(
            leg["quote_amount"]
        )
        for child in leg["children"]:
            if child["status"] == "filled":
                avg = Decimal(child["quote_amount"]) / Decimal(child["filled_qty"])
                limit = Decimal(child["limit_price"])
                assert avg <= limit if leg["side"] == "buy" else avg >= limit
    assert Decimal(spot["avg_price"]) <= 2700 and Decimal(perp["avg_price"]) >= 2670
    before, after = report["margin_before"], report["margin_after"]
    assert Decimal(after["headroom"]) < Decimal(before["headroom"])
    assert Decimal(after["initial_margin"]) > 0
    eff = report["capital_efficiency"]
    assert (
        Decimal(eff["saved"])
        == Decimal(eff["isolated_requirement"]) - Decimal(eff["cross_requirement"])
        > 0
    )


def test_human_output_names_the_figures(capsys) -> None:
    code, out, _ = run(capsys, *MARKET, "--order", BASIS)
    assert code == 0
    for text in (
        "order basis-0001: filled",
        "legs (in execution order)",
        "child orders",
        "headroom",
        "residual exposure: ETH",
        "netting saves",
    ):
        assert text in out


def test_journal_is_byte_identical_and_rerun_is_idempotent(capsys, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run(capsys, *MARKET, "--order", BASIS, "--json", "--journal", str(first))[0] == 0
    assert run(capsys, *MARKET, "--order", BASIS, "--json", "--journal", str(second))[0] == 0
    assert first.read_bytes() == second.read_bytes()
    events = [json.loads(line)["event"] for line in first.read_text().splitlines()]
    for event in (
        "order_received",
        "plan",
        "leg_order",
        "margin_check",
        "child_order",
        "fill",
        "margin_booked",
        "check_legs",
        "apply_leg",
        "order_done",
    ):
        assert event in events
    size = first.stat().st_size
    code, out, _ = run(capsys, *MARKET, "--order", BASIS, "--json", "--journal", str(first))
    assert code == 0
    replay = json.loads(out)
    assert replay["replayed"] is True and replay["status"] == "filled"
    assert first.stat().st_size == size  # nothing traded, nothing appended


def test_rerun_with_same_client_id_but_other_order_is_refused(capsys, tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    assert run(capsys, *MARKET, "--order", BASIS, "--journal", str(journal))[0] == 0
    changed = tmp_path / "changed.toml"
    changed.write_text(Path(BASIS).read_text().replace('qty = "10"', 'qty = "11"'))
    code, out, err = run(capsys, *MARKET, "--order", str(changed), "--journal", str(journal))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "client_id='basis-0001'" in err


def test_embedded_default_config_runs_the_basis_trade_without_any_config_flag(capsys) -> None:
    code, out, err = run(capsys, "--order", BASIS, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "filled"
    assert [child["venue"] for child in report["legs"][1]["children"]] == ["perp-book"]


def test_layered_configs_are_read_as_one_document(capsys, tmp_path: Path) -> None:
    # small.toml has no perp; a second file adds one and the [margin] table
    perp = tmp_path / "perp.toml"
    perp.write_text("""
[[venues]]
name = "perp"
kind = "orderbook"
instrument = "perp"
symbol = "ETH/USDC:USDC"
tick_size = "0.01"
lot_size = "0.001"
taker_fee_pips = 500
bids = [["3000.00", "50"]]
asks = [["3001.00", "50"]]

[margin]
[margin.markets."ETH/USDC:USDC"]
name = "ETH-PERP"
max_leverage = 10
""")
    order = tmp_path / "o.toml"
    order.write_text(
        Path(BASIS)
        .read_text()
        .replace('limit = "2700"', 'limit = "3100"')
        .replace('limit = "2670"', 'limit = "2900"')
        .replace(
            'venues = ["uni-v2", "uni-v3-5", "uni-v3-30", "binance-book"]',
            'venues = ["amm", "book"]',
        )
        .replace('qty = "10"', 'qty = "2"')
    )
    code, out, err = run(
        capsys, "--config", SMALL, "--config", str(perp), "--order", str(order), "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "filled" and report["hedged"] is True
    assert Decimal(report["legs"][1]["filled_qty"]) == Decimal(report["legs"][0]["filled_qty"]) == 2


def test_spot_only_order_runs_on_the_default_market(capsys, tmp_path: Path) -> None:
    order = tmp_path / "o.toml"
    order.write_text(
        '[order]\nclient_id = "s1"\n[[legs]]\nid = "buy"\nsymbol = "ETH/USDC"\nside = "buy"\nqty = "3"\n'
    )
    code, out, err = run(capsys, "--config", DEFAULT, "--order", str(order), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "filled" and Decimal(report["residual_exposure"]["ETH"]) == 3


@pytest.mark.parametrize(
    "order_text, config, needle",
    [
        (
            '[order]\nclient_id = "e1"\n[[legs]]\nsymbol = "ETH/USDC"\nside = "buy"\nqty = "-1"\n',
            None,
            "legs[0].qty",
        ),
        (
            '[order]\nclient_id = "e2"\n[[legs]]\nsymbol = "ETH/USDC"\nside = "buy"\nqty = 1.5\n',
            None,
            "floats",
        ),
        (
            '[order]\nclient_id = "e3"\n[[legs]]\nsymbol = "ETH/USDC"\nside = "buy"\nqty = "1"\nvenues = ["nowhere"]\n',
            None,
            "'nowhere' is unknown",
        ),
        (
            '[order]\nclient_id = "e5"\n[[legs]]\nid = "a"\nsymbol = "ETH/USDC"\nside = "buy"\nqty = "1"\n'
            '[[legs]]\nid = "b"\ninstrument = "perp"\nsymbol = "ETH/USDC:USDC"\nside = "sell"\nfollows = "a"\n',
            "small",
            "no perp venue trades ETH/USDC:USDC",
        ),
        (
            '[order]\nclient_id = "e4"\naccount = "ghost"\n[[legs]]\nsymbol = "ETH/USDC"\nside = "buy"\nqty = "1"\n',
            None,
            "accounts = 'ghost'",
        ),
    ],
)
def test_bad_request_is_one_line_and_exit_2(
    capsys, tmp_path: Path, order_text, config, needle
) -> None:
    order = tmp_path / "o.toml"
    if order_text is None:
        order = Path(BASIS)
    else:
        order.write_text(order_text)
    market = ["--config", SMALL] if config == "small" else MARKET
    code, out, err = run(capsys, *market, "--order", str(order), "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err, err


def test_bad_margin_section_is_a_config_error(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "market.toml"
    bad.write_text(Path(DEFAULT).read_text().replace("max_leverage = 20", "max_leverage = 0"))
    code, out, err = run(capsys, "--config", str(bad), "--order", BASIS)
    assert code == 2 and out == ""
    assert "margin.markets" in err and err.count("\n") == 1
