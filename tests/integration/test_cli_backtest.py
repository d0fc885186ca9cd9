"""`crossroute backtest` end to end on the committed sample: outputs, manifest, sweeps, bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
TWAP = ROOT / "config/examples/backtest-twap.toml"
SAMPLE = ROOT / "tests/data/binance/spot_ethusdt_20240808_first90s.gz"


def test_twap_writes_every_output_with_a_manifest(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["backtest", "--config", str(TWAP), "--out", str(out), "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {
        "results.json",
        "parents.parquet",
        "fills.parquet",
        "margin.parquet",
        "price_fills.png",
        "cumulative_cost.png",
        "manifest.json",
    }
    # No margin account: the headroom plot would be an empty frame, so it is skipped and said.
    assert manifest["skipped_plots"] == {"margin_headroom.png": "no margin account in this run"}
    import hashlib

    assert manifest["data"][0]["sha256"] == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert manifest["seed"] == 7 and manifest["config"]["strategy"]["kind"] == "twap"
    results = json.loads((out / "results.json").read_text())
    (parent,) = results["parents"]
    parts = sum(Decimal(parent[k]) for k in ("spread", "impact", "fees", "fixed_costs"))
    assert parts == Decimal(parent["shortfall"])
    assert parent["best_single_venue"] is not None
    table = pq.read_table(out / "fills.parquet")
    assert table.num_rows == len(results["fills"]) > 0
    assert (out / "price_fills.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out == ""


def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        TWAP.read_text()
        .replace('kind = "twap"', 'kind = "nope:Nothing"')
        .replace("../../tests", str(ROOT / "tests"))
    )
    out = tmp_path / "run"
    assert main(["backtest", "--config", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crossroute: error: strategy.kind") and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_unknown_plugin_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        TWAP.read_text()
        .replace("router.backtest.examples.fixed_spread_venue", "no.such")
        .replace("../../tests", str(ROOT / "tests"))
    )
    assert main(["backtest", "--config", str(bad), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "venues.otc.plugin" in capsys.readouterr().err


def test_sweep_results_do_not_depend_on_workers(tmp_path: Path) -> None:
    sweep = tmp_path / "grid.toml"
    sweep.write_text(
        '[grid]\n"strategy.slices" = [4, 6]\n"backtest.compare_single_venue" = [false]\n'
    )
    runs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert (
            main(
                [
                    "backtest",
                    "--config",
                    str(TWAP),
                    "--sweep",
                    str(sweep),
                    "--workers",
                    str(workers),
                    "--out",
                    str(out),
                    "--quiet",
                ]
            )
            == 0
        )
        runs.append(json.loads((out / "sweep.json").read_text())["runs"])
    assert runs[0] == runs[1] and len(runs[0]) == 2
    assert runs[0][0]["overrides"]["strategy.slices"] == 4


def test_sweep_on_local_ray_matches_processes(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import ray

    from router.backtest.sweep import run_sweep

    grid = {"strategy.slices": [3]}
    local = run_sweep(TWAP, grid, workers=1)
    try:
        on_ray = run_sweep(TWAP, grid, ray_address="local")
    finally:
        ray.shutdown()
    assert on_ray == local


def test_human_output_prints_quantities_without_trailing_zeros(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["backtest", "--config", str(TWAP), "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("twap: buy 20/20 ETH/USDT avg ")
    results = json.loads((out / "results.json").read_text())
    numbers = [
        v
        for fill in results["fills"]
        for k, v in fill.items()
        if k in ("qty", "quote_amount", "fee")
    ]
    numbers += [
        results["parents"][0][k]
        for k in ("qty", "filled_qty", "shortfall", "spread", "impact", "fees")
    ]
    assert any(
        fill["venue"] in ("uni-v2", "uni-v3-1") for fill in results["fills"]
    )  # 18-decimal pools
    for text in numbers + printed.split():
        if text.replace(".", "").isdigit() and "." in text:
            assert not text.endswith("0"), text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--workers", "0"], "--workers"),
        (["--sweep", "MISSING"], "sweep"),
        (["--sweep", "BADGRID"], "grid.strategy.slices"),
        (["--sweep", "BADPOINT"], "strategy.slices"),
    ],
)
def test_bad_cli_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys, extra: list, message: str
) -> None:
    (tmp_path / "bad-grid.toml").write_text('[grid]\n"strategy.slices" = []\n')
    (tmp_path / "bad-point.toml").write_text('[grid]\n"strategy.slices" = [4, 0]\n')
    names = {
        "MISSING": tmp_path / "missing.toml",
        "BADGRID": tmp_path / "bad-grid.toml",
        "BADPOINT": tmp_path / "bad-point.toml",
    }
    extra = [str(names.get(arg, arg)) for arg in extra]
    before = sorted(tmp_path.iterdir())
    out = tmp_path / "run"
    assert main(["backtest", "--config", str(TWAP), "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crossroute: error: ") and message in err and err.count("\n") == 1
    assert sorted(tmp_path.iterdir()) == before


def test_missing_config_exits_2(tmp_path: Path, capsys) -> None:
    assert (
        main(["backtest", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "config" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_the_report_says_when_a_venue_went_stale(tmp_path: Path, capsys) -> None:
    from datetime import UTC, datetime

    out = tmp_path / "run"
    basis = ROOT / "config/examples/backtest-basis.toml"
    assert main(["backtest", "--config", str(basis), "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out.splitlines()
    results = json.loads((out / "results.json").read_text())
    start, end, reason = results["coverage"]["binance-perp"]["stale"][-1]
    assert end is None and reason == "data ended"
    assert results["window"]["start_ts_ns"] < start < results["window"]["end_ts_ns"]
    when = datetime.fromtimestamp(start // 10**9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    millis = f"{start // 10**6 % 1000:03d}"
    line = f"stale: binance-perp from {when}.{millis}Z to the end of the run (data ended)"
    assert [p for p in printed if p.startswith("stale:")] == [line]
