"""`crossroute stress --fills ... --at TIME`: the replayed book at TIME, stressed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.cli import main
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
