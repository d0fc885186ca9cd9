"""`crossroute paper order` and `paper status` against a real paper service (a subprocess on an
ephemeral port): a table for people, `--json` for machines, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["paper", "order", "--account", "desk-a", "--symbol", "ETH/USDC", "--side", "buy"]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("paper") / "paper.db"
    command = [sys.executable, "-m", "router.cli", "paper", "--db", str(db), "--port", "0"]
    proc = subprocess.Popen(
        [*command, "--speed", "0", "--no-status"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # the service names its address on its first line
        assert "listening on" in line, proc.stderr.read() if proc.poll() is not None else line
        yield line.split("listening on ")[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.mark.parametrize("columns", ["80", "100"])
def test_order_prints_tables_with_every_figure_whole(
    url: str, capsys, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert main([*ORDER, "--qty", "60", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and max(map(len, out.splitlines())) <= int(columns)
    assert ": filled" in out and "binance-book" in out and "headroom" in out
    assert "60.000000000000000000" not in out  # quantities shown without trailing zeros


def test_order_json_is_the_service_answer(url: str, capsys) -> None:
    assert main([*ORDER, "--qty", "1", "--url", url, "--json", "--client-id", "cli-json"]) == 0
    order = json.loads(capsys.readouterr().out)
    assert order["client_id"] == "cli-json" and order["status"] == "filled"
    assert Decimal(order["legs"][0]["filled_qty"]) == 1


def test_status_prints_one_json_object(url: str, capsys) -> None:
    assert main(["paper", "status", "--url", url]) == 0
    assert json.loads(capsys.readouterr().out)["orders"] >= 1


@pytest.mark.parametrize(
    "argv",
    [
        [*ORDER, "--qty", "1e3"],  # refused before anything is sent
        [*ORDER[:3], "nobody", *ORDER[4:], "--qty", "1"],  # the service refuses the account
        ["paper", "status", "--url", "ftp://127.0.0.1"],
    ],
)
def test_bad_order_exits_2_with_one_line(url: str, capsys, argv: list[str]) -> None:
    assert main([*argv, "--url", url] if "--url" not in argv else argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("crossroute: error: ") and err.count("\n") == 1


def test_no_service_is_one_line(capsys) -> None:
    assert main(["paper", "status", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "a running paper service" in err and err.count("\n") == 1
