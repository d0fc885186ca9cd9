"""`crossroute stress --fills ... --at TIME`: the replayed book at TIME, stressed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.cli import main
from router.margin.quantities import RATE_SCALE, SCALE
from router.replay.run import account_at, replay
from router.replay.timeline import iso_time
from router.stress.engine import portfolio_from_document

RULES = """
[assets]
USDC = { decimals = 6 }
BTC = { decimals = 8 }

[margin]
quote = "USDC"

[margin.markets."BTC/USDC:USDC"]
name = "BTC-PERP"
oracle = "BTC"
max_leverage = 10
"""
SCENARIOS = """
[[scenarios]]
name = "btc-10"
shocks = { BTC = "-0.10" }

[monte_carlo]
paths = 20
steps = 3
vol = { BTC = "0.02" }
"""
START_NS = 1_723_075_200 * 10**9  # 2024-08-08T00:00:00Z
FILLS = "time,venue,symbol,side,qty,price,fee,fee_asset\n"


def iso(seconds: int) -> str:
    return iso_time(START_NS + seconds * 10**9)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    marks = ["time,symbol,price"] + [
        f"{iso(60 * m)},BTC/USDC:USDC,{100000 - 37 * m}.5" for m in range(1, 121)
    ]
    fills = FILLS + (
        f"{iso(0)},hyperliquid,BTC/USDC:USDC,buy,1,100000,10,USDC\n"
        f"{iso(1800)},binance,BTC/USDC:USDC,sell,0.25,99000,2.5,USDC\n"
    )
    out = {}
    for name, text in (
        ("rules", RULES),
        ("marks", "\n".join(marks) + "\n"),
        ("fills", fills),
        ("scenarios", SCENARIOS),
    ):
        path = tmp_path / f"{name}.txt"
        path.write_text(text)
        out[name] = str(path)
    return out


def stress(files: dict[str, str], *extra: str) -> list[str]:
    return [
        "stress",
        "--fills",
        files["fills"],
        "--marks",
        files["marks"],
        "--rules",
        files["rules"],
        "--collateral",
        "USDC=20000",
        "--scenarios",
        files["scenarios"],
        *extra,
    ]


def test_stress_at_runs_every_scenario_and_monte_carlo_on_the_book_of_that_moment(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(stress(files, "--at", iso(3600), "--json"))
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert [s["name"] for s in data["scenarios"]] == ["btc-10"]
    assert data["monte_carlo"]["paths"] == 20
    # 0.75 BTC held at 01:00 (mark 100000 - 37 x 60 + 0.5): a 10% drop loses 10% of its value
    mark = Decimal(100000 - 37 * 60) + Decimal("0.5")
    assert Decimal(data["scenarios"][0]["cross"]["loss"]) == Decimal("0.75") * mark / 10
    # before the second fill the whole 1 BTC is held
    assert main(stress(files, "--at", iso(1799), "--json")) == 0
    early = json.loads(capsys.readouterr().out)
    mark = Decimal(100000 - 37 * 29) + Decimal("0.5")
    assert Decimal(early["scenarios"][0]["cross"]["loss"]) == mark / 10


@settings(max_examples=15, deadline=None)
@given(minute=st.integers(0, 120))
def test_the_document_holds_the_replays_equity_and_requirements(minute: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = _files(Path(tmp))
        at = iso(60 * minute)
        source, doc = account_at(
            [paths["fills"]], paths["marks"], paths["rules"], ["USDC=20000"], at
        )
        portfolio = portfolio_from_document(source, doc)
        summary = portfolio.cross.summary(portfolio.sub_id)
        timeline = replay([paths["fills"]], paths["marks"], paths["rules"], ["USDC=20000"]).timeline
        sample = [s for s in timeline.samples if s.time_ns <= START_NS + 60 * minute * 10**9][-1]
        # equity to within one 1e-8 unit, never above (entry rounding folded in, rounded down)
        assert Decimal(0) <= sample.equity - summary["equity"] <= Decimal("1E-8")
        assert summary["maintenance_margin"] == sample.maintenance_margin
        assert summary["initial_margin"] == sample.initial_margin


def _files(tmp: Path) -> dict[str, str]:
    marks = ["time,symbol,price"] + [
        f"{iso(60 * m)},BTC/USDC:USDC,{100000 - 37 * m}.5" for m in range(1, 121)
    ]
    fills = FILLS + (
        f"{iso(0)},hyperliquid,BTC/USDC:USDC,buy,0.3,100000,1,USDC\n"
        f"{iso(700)},hyperliquid,BTC/USDC:USDC,buy,0.7,99871.13,1,USDC\n"
        f"{iso(1800)},binance,BTC/USDC:USDC,sell,0.33,99000,2.5,USDC\n"
    )
    out = {}
    for name, text in (("rules", RULES), ("marks", "\n".join(marks) + "\n"), ("fills", fills)):
        (tmp / name).write_text(text)
        out[name] = str(tmp / name)
    return out


@pytest.mark.parametrize(
    "extra",
    [
        ["--at", "2024-08-08"],
        ["--at", "2024-02-30T00:00:00Z"],
        ["--at", iso(-1)],  # before the first fill
        ["--at", iso(10**6)],  # after the last event
        [],  # --fills without --at
        ["--at", iso(60), "--account", "account.toml"],
    ],
)
def test_bad_at_exits_2_with_one_line(
    files: dict[str, str], capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    assert main(stress(files, *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--at" in err or "--account" in err


def test_replay_flags_need_fills(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[4]
    account = str(root / "config/examples/account-basis.toml")
    assert main(["stress", "--account", account, "--at", iso(0)]) == 2
    assert "only with --fills" in capsys.readouterr().err
    assert main(["stress", "--account", account, "--subaccount", "main/main"]) == 2
    assert "only with --fills" in capsys.readouterr().err


def test_stress_at_takes_the_chosen_subaccount_of_the_fills(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(stress(files, "--at", iso(3600), "--json")) == 0
    default = json.loads(capsys.readouterr().out)["scenarios"]
    assert main(stress(files, "--at", iso(3600), "--json", "--subaccount", "main/main")) == 0
    assert json.loads(capsys.readouterr().out)["scenarios"] == default
    assert main(stress(files, "--at", iso(3600), "--subaccount", "desk/x")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "one of main/main" in err


USDT_RULES = """
[assets]
USDT = { decimals = 6 }
BTC = { decimals = 8 }
ETH = { decimals = 18 }

[margin]
quote = "USDT"

[margin.assets.ETH]
initial_weight = "0.8"
maintenance_weight = "0.9"
initial_liability_weight = "1.25"
maintenance_liability_weight = "1.125"
borrow_limit = "50"
borrow_rate = "0.07"

[margin.markets."BTC/USDT:USDT"]
name = "BTC-PERP"
oracle = "BTC"
max_leverage = 20
funding_cap = "0.0003"
funding_interest = "0.0001"
funding_band = "0.0005"
funding_interval_hours = 4
"""


def test_a_usdt_rule_set_with_spot_borrows_is_stressed_with_its_own_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marks = ["time,symbol,price"]
    for m in range(1, 61):
        marks += [f"{iso(60 * m)},BTC/USDT:USDT,{60000 + 7 * m}", f"{iso(60 * m)},ETH/USDT,2500"]
    fills = FILLS + (
        f"{iso(0)},binance,BTC/USDT:USDT,buy,0.5,60000,3,USDT\n"
        f"{iso(30)},binance,ETH/USDT,sell,4,2500,1,USDT\n"  # 4 ETH sold on credit: a borrow
    )
    paths = {}
    scenarios = '[[scenarios]]\nname = "btc-10"\nshocks = { BTC = "-0.10" }\n'
    for name, text in (
        ("rules", USDT_RULES),
        ("marks", "\n".join(marks)),
        ("fills", fills),
        ("scenarios", scenarios),
    ):
        (tmp_path / name).write_text(text + "\n")
        paths[name] = str(tmp_path / name)
    at = iso(1800)
    source, doc = account_at([paths["fills"]], paths["marks"], paths["rules"], ["USDT=20000"], at)
    # the rules travel with the book: the margin asset, the borrow's terms, the funding terms
    assert doc["quote"] == "USDT"
    assert doc["collateral_weights"]["ETH"] == {
        "initial": "0.8",
        "maintenance": "0.9",
        "initial_liability": "1.25",
        "maintenance_liability": "1.125",
        "borrow_limit": "50",
        "borrow_rate": "0.07",
    }
    (position,) = doc["positions"]
    assert (position["funding_cap"], position["funding_interval_hours"]) == ("0.0003", 4)
    assert (position["funding_interest"], position["funding_band"]) == ("0.0001", "0.0005")
    portfolio = portfolio_from_document(source, doc)
    ledger = portfolio.cross
    assert ledger.quote_asset == "USDT"
    eth = ledger.assets["ETH"]
    assert ledger.subaccount(portfolio.sub_id).balances["ETH"] < 0  # the borrow is carried
    assert (eth.initial_liability_ppm, eth.maintenance_liability_ppm) == (1_250_000, 1_125_000)
    assert eth.borrow_limit_units == 50 * SCALE and eth.borrow_rate_units is not None
    assert eth.borrow_rate_units > 0
    btc = ledger.markets["BTC-PERP"]
    assert (btc.funding_cap_units, btc.funding_interval_hours) == (3 * RATE_SCALE // 10**4, 4)
    assert (btc.funding_interest_units, btc.funding_band_units) == (
        RATE_SCALE // 10**4,
        RATE_SCALE // 2000,
    )
    timeline = replay([paths["fills"]], paths["marks"], paths["rules"], ["USDT=20000"]).timeline
    sample = [s for s in timeline.samples if s.time_ns <= START_NS + 1800 * 10**9][-1]
    summary = ledger.summary(portfolio.sub_id)
    # the liability weights reach the requirements: the document's are the replay's exactly
    assert summary["initial_margin"] == sample.initial_margin
    assert summary["maintenance_margin"] == sample.maintenance_margin
    code = main(
        [
            "stress",
            "--fills",
            paths["fills"],
            "--marks",
            paths["marks"],
            "--rules",
            paths["rules"],
            "--collateral",
            "USDT=20000",
            "--at",
            at,
            "--scenarios",
            paths["scenarios"],
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    (scenario,) = json.loads(out)["scenarios"]
    # 0.5 BTC at the 30-minute mark (60,000 + 7 x 30) loses 10% of its value
    assert Decimal(scenario["cross"]["loss"]) >= Decimal("0.05") * (60000 + 7 * 30)
