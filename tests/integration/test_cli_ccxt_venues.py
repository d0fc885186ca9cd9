"""`kind = "ccxt"` venues end to end: the venue server on 127.0.0.1 (in a thread of the test)
stands in for the exchange, a config names it as a ccxt venue, and `crossroute route` and
`crossroute execute` go through the unmodified ccxt client to it; a lost reply is reconciled by
client order id. Bad ccxt config exits 2 naming the key."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from router.app import DEFAULT_CONFIG, load_market
from router.cli import main
from router.server.build import build_server

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "config" / "default.toml"
REMOTE = "binance-book"  # served by the venue server; a ccxt venue of the same name in the config
KEY_ENV, SECRET_ENV = "CROSSROUTE_TEST_KEY", "CROSSROUTE_TEST_SECRET"
ORDER = """
[order]
client_id = "ccxt-0001"
account = "desk-a"
time_limit_secs = "30"
slippage_bps = 10

[[legs]]
id = "spot-long"
instrument = "spot"
symbol = "ETH/USDC"
side = "buy"
qty = "6"
limit = "2700"
venues = ["binance-book", "uni-v2"]
"""


class ServedVenues:
    """The default market served on an ephemeral loopback port by a loop in its own thread."""

    def __init__(self) -> None:
        self.market = load_market(DEFAULT_CONFIG)
        self.server = build_server(self.market)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(self.server.app, access_log=None)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()

    def call(self, fn, *args):
        """Run ``fn`` on the server's loop (its state belongs to that thread)."""

        async def run():
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()


@pytest.fixture
def served() -> Iterator[tuple[ServedVenues, str]]:
    venues = ServedVenues()
    base = venues.start()
    try:
        yield venues, base
    finally:
        venues.stop()


def ccxt_config(tmp_path: Path, base: str, **extra: str) -> Path:
    """The default market with its order book replaced by a ccxt venue of the same name."""
    text = DEFAULT.read_text()
    block = re.search(r'\[\[venues\]\]\nname = "binance-book"\n.*?(?=\n\[\[)', text, re.S)
    assert block is not None
    fields = {
        "name": REMOTE,
        "kind": "ccxt",
        "exchange": "binance",
        "symbol": "ETH/USDC",
        "base_url": f"{base}/v/{REMOTE}",
        "api_key_env": KEY_ENV,
        "api_secret_env": SECRET_ENV,
        "taker_fee_pips": 1000,
        "max_snapshot_age_secs": "30",
        **extra,
    }
    lines = "\n".join(
        f"{k} = {v}" if isinstance(v, int) else f"{k} = {json.dumps(v)}" for k, v in fields.items()
    )
    path = tmp_path / "ccxt-market.toml"
    path.write_text(text.replace(block.group(0), "[[venues]]\n" + lines + "\n"))
    return path


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    account = load_market(DEFAULT_CONFIG).accounts["desk-a"]
    monkeypatch.setenv(KEY_ENV, account.api_key)
    monkeypatch.setenv(SECRET_ENV, account.api_secret)


def route_args(side: str, qty: str) -> list[str]:
    return ["--symbol", "ETH/USDC", "--side", side, "--qty", qty, "--json"]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "side, qty", [("buy", "5"), ("sell", "30"), ("buy", "40"), ("sell", "0.5")]
)
def test_route_through_a_ccxt_venue_gives_the_in_process_plan(
    served, keys, capsys, tmp_path: Path, side: str, qty: str
) -> None:
    _venues, base = served
    config = ccxt_config(tmp_path, base)
    code, out, err = cli(capsys, "route", "--config", str(config), *route_args(side, qty))
    assert code == 0, err
    code, local, err = cli(capsys, "route", *route_args(side, qty))
    assert code == 0, err
    got, expected = json.loads(out), json.loads(local)
    assert got == expected
    assert any(leg["venue"] == REMOTE for leg in got["legs"]), got


def test_execute_through_a_ccxt_venue_reconciles_a_lost_reply(
    served, keys, capsys, tmp_path: Path
) -> None:
    venues, base = served
    config = ccxt_config(tmp_path, base)
    order = tmp_path / "order.toml"
    order.write_text(ORDER)
    faults = tmp_path / "faults.toml"
    faults.write_text(f'[[faults]]\nvenue = "{REMOTE}"\nkind = "lost_reply"\nafter = 0\n')
    ledger = venues.server.ledger
    eth0 = venues.call(ledger.free, "desk-a", "ETH")
    usdc0 = venues.call(ledger.free, "desk-a", "USDC")
    code, out, err = cli(
        capsys,
        "execute",
        "--config",
        str(config),
        "--order",
        str(order),
        "--faults",
        str(faults),
        "--child-timeout",
        "5",
        "--json",
        "--journal",
        str(tmp_path / "journal.jsonl"),
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "filled", report["reason"]
    children = [c for leg in report["legs"] for c in leg["children"]]
    remote = [c for c in children if c["venue"] == REMOTE]
    lost = [c for c in remote if c["fault"]]
    assert lost and lost[0]["status"] == "filled" and "reconciled" in lost[0]["reason"], remote
    # the exchange's own books moved by exactly what the report says it traded there
    bought = sum((Decimal(c["filled_qty"]) for c in remote), Decimal(0))
    paid = sum((Decimal(c["quote_amount"]) for c in remote), Decimal(0))
    assert bought > 0
    assert venues.call(ledger.free, "desk-a", "ETH") - eth0 == int(bought.scaleb(18))
    assert usdc0 - venues.call(ledger.free, "desk-a", "USDC") == int(paid.scaleb(6))
    # venue_holdings: what the exchange itself reports the order changed (fetch_balance)
    assert Decimal(report["venue_holdings"][REMOTE]["ETH"]) == bought
    # an audit replays runs by trading them again: refused for a market with a real exchange
    code, out, err = cli(
        capsys, "audit", "--journal", str(tmp_path / "journal.jsonl"), "--config", str(config)
    )
    assert code == 2 and out == "" and "venues[3].kind" in err, err


def test_bad_ccxt_config_exits_2_naming_the_key(
    served, keys, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _venues, base = served
    config = ccxt_config(tmp_path, base, exchange="no-such-exchange")
    code, out, err = cli(capsys, "route", "--config", str(config), *route_args("buy", "1"))
    assert code == 2 and out == ""
    assert "venues[3].exchange" in err and "no-such-exchange" in err, err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.delenv(SECRET_ENV)
    config = ccxt_config(tmp_path, base)
    code, out, err = cli(capsys, "route", "--config", str(config), *route_args("buy", "1"))
    assert code == 2 and out == ""
    assert "venues[3].api_secret_env" in err and SECRET_ENV in err, err
    config = ccxt_config(tmp_path, base, max_snapshot_age_secs="0")
    code, _, err = cli(capsys, "route", "--config", str(config), *route_args("buy", "1"))
    assert code == 2 and "venues[3].max_snapshot_age_secs" in err, err


def test_route_loads_no_ccxt_without_a_ccxt_venue() -> None:
    code = (
        "import sys\n"
        "from router.cli import main\n"
        "assert main(['route', '--symbol', 'ETH/USDC', '--side', 'buy', '--qty', '1', '--json']) == 0\n"
        "assert not any(m == 'ccxt' or m.startswith('ccxt.') for m in sys.modules), 'ccxt loaded'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
