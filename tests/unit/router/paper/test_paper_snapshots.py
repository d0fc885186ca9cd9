"""Snapshots, all-or-nothing commands and the data-replay market of the paper service."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import zlib
from decimal import Decimal
from pathlib import Path

import pytest

from router.model.errors import ConfigError
from router.paper.market import PRICE_SCALE, MarketSimulator, ReplayPrice, SimParams
from router.paper.service import PaperError, PaperService
from router.paper.snapshot import Declaration, SnapshotError, StateImage

CONFIG = "config/default.toml"
CAPTURE = "tests/data/binance/spot_ethusdt_20240808_first90s.gz"
ROOT = Path(__file__).resolve().parents[4]

# A stream that touches every kind of state: routed spot and perp orders, a multi-leg order,
# gtc orders that work across ticks, a cancel, a subaccount and a transfer, and plain ticks.
STREAM = [
    ("step", {"ticks": 5}),
    (
        "order",
        {"client_id": "o1", "account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "3"},
    ),
    (
        "order",
        {
            "client_id": "g1",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "sell",
            "qty": "2",
            "limit": "2683",
            "tif": "gtc",
        },
    ),
    (
        "order",
        {
            "client_id": "g2",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "buy",
            "qty": "1",
            "limit": "2000",
            "tif": "gtc",
        },
    ),
    ("subaccount", {"account": "desk-a", "name": "hedge"}),
    (
        "transfer",
        {"account": "desk-a", "from": "main", "to": "hedge", "asset": "USDC", "amount": "5000"},
    ),
    ("step", {"ticks": 7}),
    (
        "order",
        {
            "client_id": "p1",
            "account": "desk-a",
            "symbol": "ETH/USDC:USDC",
            "side": "sell",
            "qty": "2",
        },
    ),
    ("cancel", {"client_id": "g2"}),
    (
        "order",
        {
            "client_id": "m1",
            "account": "desk-a",
            "legs": [
                {"id": "spot", "symbol": "ETH/USDC", "side": "buy", "qty": "1.5"},
                {
                    "id": "hedge",
                    "instrument": "perp",
                    "symbol": "ETH/USDC:USDC",
                    "side": "sell",
                    "follows": "spot",
                },
            ],
        },
    ),
    ("step", {"ticks": 4}),
    (
        "order",
        {
            "client_id": "o2",
            "account": "desk-a",
            "subaccount": "hedge",
            "symbol": "ETH/USDC",
            "side": "buy",
            "qty": "0.5",
        },
    ),
    (
        "order",
        {
            "client_id": "o3",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "sell",
            "quote_qty": "4000",
        },
    ),
]


async def _run(service: PaperService, stream=STREAM, ticks_between: int = 3) -> list[dict]:
    results = []
    for kind, body in stream:
        results.append(await service.command(kind, body))
        await service.tick(ticks_between)
    return results


@pytest.mark.parametrize("every", [1, 3, 5])
async def test_restart_from_snapshot_plus_tail_equals_restart_from_full_log(tmp_path, every):
    with_snaps = PaperService(
        CONFIG, db=tmp_path / "s.db", snapshot_every=every, snapshot_every_ticks=10**9
    )
    full_log = PaperService(
        CONFIG, db=tmp_path / "f.db", snapshot_every=10**9, snapshot_every_ticks=10**9
    )
    await with_snaps.open(), await full_log.open()
    assert await _run(with_snaps) == await _run(full_log)
    digest = with_snaps.state_digest()
    assert full_log.state_digest() == digest
    snaps = with_snaps.store.snapshots()
    assert snaps and len(snaps) <= 2 and not full_log.store.snapshots()
    with_snaps.close(), full_log.close()

    from_snapshot = PaperService(CONFIG, db=tmp_path / "s.db")
    replayed_tail = await from_snapshot.open()
    from_log = PaperService(CONFIG, db=tmp_path / "f.db")
    replayed_all = await from_log.open()
    assert replayed_all == len(STREAM)
    assert replayed_tail == len(STREAM) - snaps[0].event_seq < replayed_all
    assert from_snapshot.state_digest() == from_log.state_digest() == digest
    # and both go on identically
    more = (
        "order",
        {
            "client_id": "after",
            "account": "desk-a",
            "symbol": "ETH/USDC",
            "side": "sell",
            "qty": "1",
        },
    )
    assert await _run(from_snapshot, [more]) == await _run(from_log, [more])
    assert from_snapshot.state_digest() == from_log.state_digest()
    from_snapshot._check()
    from_snapshot.close(), from_log.close()


async def test_tick_driven_snapshot_bounds_the_replay_and_keeps_the_journal_numbering(tmp_path):
    service = PaperService(
        CONFIG, db=tmp_path / "t.db", snapshot_every=10**9, snapshot_every_ticks=25
    )
    await service.open()
    await _run(service, STREAM[:4], ticks_between=20)
    snap = service.store.snapshots()[0]
    assert snap.tick >= 25
    digest, journal_seq = service.state_digest(), len(service.journal._lines)
    service.close()
    again = PaperService(CONFIG, db=tmp_path / "t.db")
    assert await again.open() == 4 - snap.event_seq
    assert again.state_digest() == digest and len(again.journal._lines) == journal_seq
    await again.command("step", {"ticks": 1})  # new journal lines continue the stored numbering
    assert [
        r["seq"] for r in map(__import__("json").loads, again.store.journal(after=journal_seq - 2))
    ] == list(
        range(journal_seq - 1, journal_seq - 1 + len(again.store.journal(after=journal_seq - 2)))
    )
    again.close()


async def test_a_snapshot_that_does_not_load_falls_back_to_the_older_one(tmp_path):
    service = PaperService(
        CONFIG, db=tmp_path / "c.db", snapshot_every=2, snapshot_every_ticks=10**9
    )
    await service.open()
    await _run(service, STREAM[:6])
    digest = service.state_digest()
    service.close()
    db = sqlite3.connect(tmp_path / "c.db")
    newest = db.execute("SELECT MAX(id) FROM snapshots").fetchone()[0]
    db.execute("UPDATE snapshots SET state = ? WHERE id = ?", (b"not a snapshot", newest))
    db.commit()
    db.close()
    again = PaperService(CONFIG, db=tmp_path / "c.db")
    assert await again.open() == 2  # the older snapshot holds 4 of the 6 commands
    assert again.state_digest() == digest
    again.close()


_KILL_SCRIPT = r"""
import asyncio, os, signal, sys
from router.paper.service import PaperService
from router.paper.store import Store
sys.path.insert(0, os.path.dirname(sys.argv[2]))
from test_paper_snapshots import STREAM

def die_inside(self, *, tick, journal_seq, digest, state):
    self._db.execute("BEGIN IMMEDIATE")
    self._db.execute("INSERT INTO snapshots(event_seq, tick, journal_seq, digest, state) VALUES (0, ?, ?, ?, ?)",
                     (tick, journal_seq, digest, state))
    os.kill(os.getpid(), signal.SIGKILL)  # the process dies with the snapshot half written

async def main():
    service = PaperService("config/default.toml", db=sys.argv[1], snapshot_every=4, snapshot_every_ticks=10**9)
    await service.open()
    for index, (kind, body) in enumerate(STREAM):
        if index == 7:
            Store.write_snapshot = die_inside  # the second snapshot, after command 8
        await service.command(kind, body)
        await service.tick(3)
        print("ack", index, flush=True)

asyncio.run(main())
"""


async def test_a_kill_while_a_snapshot_is_written_loses_nothing(tmp_path):
    db = tmp_path / "k.db"
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_SCRIPT, str(db), __file__],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    acks = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("ack")]
    assert acks == list(range(7))  # command 8 was committed, then the snapshot killed the process
    after = PaperService(CONFIG, db=db)
    assert [s.event_seq for s in after.store.snapshots()] == [4]  # the torn snapshot left no row
    await after.open()
    reference = PaperService(CONFIG)
    await _run(reference, STREAM[:7])
    await reference.command(*STREAM[7])  # durable before the snapshot started
    # The ticks after command 8 were never made durable (nothing acknowledged them).
    assert after.sim.tick == reference.sim.tick
    assert after.state_digest() == reference.state_digest()
    after.close()


# -- all or nothing ----------------------------------------------------------------------------


class _FaultyAdapter:
    """Wraps a pool adapter's depth_curve: raises once, when armed and at the armed tick."""

    def __init__(self, service: PaperService, name: str) -> None:
        self.service = service
        self.adapter = service.market.adapters[name]
        self.real = self.adapter.depth_curve
        self.at_tick: int | None = None
        self.adapter.depth_curve = self.depth_curve

    def depth_curve(self, side):
        if self.at_tick is not None and self.service.sim.tick >= self.at_tick:
            self.at_tick = None
            raise RuntimeError("venue adapter crashed")
        return self.real(side)


async def _counts_and_digest(service: PaperService):
    return service.store.counts(), service.state_digest(), service.status()["fills"]


async def test_a_venue_adapter_crash_after_fills_rolls_the_whole_command_back(tmp_path):
    service = PaperService(CONFIG, db=tmp_path / "a.db", snapshot_every=3)
    twin = PaperService(CONFIG)  # the same commands without the fault
    await service.open()
    await _run(service, STREAM[:4]), await _run(twin, STREAM[:4])
    fault = _FaultyAdapter(service, "uni-v3-30")
    before = await _counts_and_digest(service)
    reserves = service.market.venues["uni-v2"].reserves
    fault.at_tick = service.sim.tick + 30
    with pytest.raises(PaperError) as info:
        await service.command("step", {"ticks": 60})
    assert info.value.status == 500 and "rolled back" in info.value.message
    assert fault.at_tick is None  # it fired, 30 ticks into the command
    assert await _counts_and_digest(service) == before
    assert service.market.venues["uni-v2"].reserves == reserves
    # The aborted step had changed the market (references, maker quotes, arbitrage) before the
    # crash: a twin running its first 29 ticks ends elsewhere, so there was something to roll back.
    sim_before = service.sim.state_digest()
    await twin.command("step", {"ticks": 29})
    assert twin.sim.state_digest() != sim_before
    twin_after = PaperService(CONFIG)
    await _run(twin_after, STREAM[:4])
    tail = [
        (
            "order",
            {
                "client_id": "z1",
                "account": "desk-a",
                "symbol": "ETH/USDC",
                "side": "buy",
                "qty": "2",
            },
        ),
        ("step", {"ticks": 10}),
    ]
    assert await _run(service, tail) == await _run(twin_after, tail)
    assert service.state_digest() == twin_after.state_digest()
    service._check()
    service.close()


async def test_a_refused_commit_after_an_order_filled_changes_nothing(tmp_path, monkeypatch):
    service = PaperService(CONFIG, db=tmp_path / "d.db")
    await service.open()
    await _run(service, STREAM[:3])
    before = await _counts_and_digest(service)
    real_commit = service.store.commit

    def disk_full(**kwargs):
        monkeypatch.setattr(service.store, "commit", real_commit)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(service.store, "commit", disk_full)
    order = {
        "client_id": "big",
        "account": "desk-a",
        "symbol": "ETH/USDC",
        "side": "buy",
        "qty": "5",
    }
    with pytest.raises(PaperError) as info:
        await service.command("order", order)
    assert info.value.status == 500
    assert await _counts_and_digest(service) == before and "big" not in service.desk.state.orders
    assert (await service.command("order", order))[
        "status"
    ] == "filled"  # the same id is free again
    digest = service.state_digest()
    service.close()
    again = PaperService(CONFIG, db=tmp_path / "d.db")
    await again.open()
    assert again.state_digest() == digest
    again.close()


# -- state images ------------------------------------------------------------------------------


class _Box:
    def __init__(self, value):
        self.value = value
        self.hook = lambda: None  # wiring: neither saved nor restored


BOX = {_Box: Declaration(state=("value",), wiring=("hook",))}


def test_state_image_restores_contents_in_place_and_refuses_bad_blobs():
    shared = _Box([1, 2])
    a, b = _Box({"x": shared}), _Box(shared)
    image = StateImage([a, b, shared], BOX)
    blob = image.dumps()
    hook = a.hook
    a.value["x"] = None
    shared.value.append(3)
    b.value = "other"
    image.loads(blob)
    assert (
        a.value["x"] is shared and b.value is shared and shared.value == [1, 2] and a.hook is hook
    )
    with pytest.raises(SnapshotError):
        image.loads(b"garbage")
    assert shared.value == [1, 2]
    with pytest.raises(SnapshotError):
        StateImage([a, a], BOX)


def _older_build_layout():
    # What a compiled (Cython) class raises when it unpickles state of another field layout.
    raise pickle.PickleError("Incompatible checksums (0x855a125 vs (0xcf2451,))")


class _FromAnOlderBuild:
    def __reduce__(self):
        return (_older_build_layout, ())


def test_a_snapshot_of_an_older_build_is_refused_as_a_snapshot_error_and_changes_nothing():
    shared = _Box([1, 2])
    image = StateImage([shared], BOX)
    blob = zlib.compress(pickle.dumps([{"value": _FromAnOlderBuild()}]))
    with pytest.raises(SnapshotError, match="Incompatible checksums"):
        image.loads(blob)
    assert shared.value == [1, 2]


def test_an_undeclared_attribute_refuses_to_become_state_silently():
    box = _Box(1)
    image = StateImage([box], BOX)
    box.later = "new"  # a new attribute: neither state nor wiring
    with pytest.raises(SnapshotError, match=r"_Box\.later is neither declared state nor wiring"):
        image.dumps()
    with pytest.raises(SnapshotError, match="no state declaration"):
        StateImage([object()], BOX)


async def test_every_stateful_object_of_the_service_is_declared():
    from router.paper.api import create_paper_app

    service = PaperService(CONFIG)
    create_paper_app(service)  # the venue server's engine and ledger join the snapshots
    for image, _ in service.snapshots.parts:
        image.check()  # raises naming the first undeclared attribute
    assert len(service.snapshots.parts) == 2


def test_service_refuses_bad_snapshot_settings():
    for value in (0, -1, True, "5"):
        with pytest.raises(ConfigError):
            PaperService(CONFIG, snapshot_every=value)


# -- the data-replay market --------------------------------------------------------------------


def _replay_sim(seed: int = 7) -> MarketSimulator:
    from router.app import build_margin, load_market

    market = load_market(CONFIG)
    setup = build_margin(market)
    return MarketSimulator(
        market, setup.ledger, setup.perp_markets, SimParams(seed=seed, replay_path=CAPTURE)
    )


async def test_replayed_reference_is_the_captures_mid_and_deterministic():
    feed = ReplayPrice(CAPTURE)
    # first top of book of the capture: 2683.80 / 2683.81, mid rounded down to the 1e-8 grid
    assert feed.mids_e8[0] == (268380000000 + 268381000000) // 2
    a, b, c = _replay_sim(7), _replay_sim(7), _replay_sim(8)
    seen = set()
    for _ in range(120):
        await a.step(), await b.step(), await c.step()
        assert a.refs["ETH/USDC"] == feed.at(a.t_ns) == c.refs["ETH/USDC"]  # the data, not the seed
        seen.add(a.refs["ETH/USDC"])
    assert a.state_digest() == b.state_digest() != c.state_digest()  # the perp premium stays seeded
    assert len(seen) > 5  # the price moved with the data
    last = feed.mids_e8[-1]
    assert a.refs["ETH/USDC"] == last and Decimal(last) / PRICE_SCALE == Decimal("2683.525")
    a._check()


async def test_a_replayed_market_restarts_to_the_same_state_and_pins_its_file(tmp_path):
    data = tmp_path / "capture.gz"
    data.write_bytes((ROOT / CAPTURE).read_bytes())
    params = SimParams(replay_path=str(data))
    service = PaperService(CONFIG, db=tmp_path / "r.db", params=params, snapshot_every=3)
    await service.open()
    await _run(service, STREAM[:6])
    digest = service.state_digest()
    service.close()
    again = PaperService(CONFIG, db=tmp_path / "r.db")
    await again.open()
    assert again.state_digest() == digest and again.sim.replay is not None
    again.close()
    data.write_bytes(b"")  # another file behind the same path
    with pytest.raises(ConfigError):
        PaperService(CONFIG, db=tmp_path / "r.db")
    with pytest.raises(ConfigError):
        SimParams(replay_path=7)
    with pytest.raises(ConfigError):
        PaperService(
            CONFIG, params=SimParams(replay_path=str(ROOT / CAPTURE), replay_symbol="BTC/USDC")
        )
