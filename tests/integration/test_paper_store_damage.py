"""A damaged paper database refuses to start with one clear line: overwritten pages, a WAL deleted
after a kill, a database replaced by an older copy or removed. An intact one starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from router.paper.service import PaperService
from router.paper.store import StoreDamaged

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/default.toml"
ORDER = {"account": "desk-a", "symbol": "ETH/USDC", "side": "buy", "qty": "0.1"}

# Places orders and dies without closing anything (like SIGKILL): the WAL is never checkpointed.
_KILLED = """
import asyncio, os, sys
from router.paper.service import PaperService
async def main():
    service = PaperService({config!r}, db=sys.argv[1])
    await service.open()
    for i in range({count}):
        await service.command("order", {{**{order!r}, "client_id": f"k{{i}}"}})
    os._exit(9)
asyncio.run(main())
"""


def _killed_after(db: Path, count: int) -> None:
    script = _KILLED.format(config=CONFIG, count=count, order=ORDER)
    done = subprocess.run(
        [sys.executable, "-c", script, str(db)], cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == 9, done.stderr


async def _placed(db: Path, count: int) -> None:
    service = PaperService(CONFIG, db=db)
    await service.open()
    for i in range(count):
        await service.command("order", {**ORDER, "client_id": f"o{i}"})
    service.close()


def _cli(db: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "router.cli", "paper", "--db", str(db), "--port", "0"]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


async def test_overwritten_pages_refuse_to_start_with_what_to_do(tmp_path):
    db = tmp_path / "p.db"
    await _placed(db, 30)
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[3 * page : 5 * page] = b"\xa5" * (2 * page)  # two pages of the tables overwritten
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    with pytest.raises(StoreDamaged) as refused:
        PaperService(CONFIG, db=db)
    text = str(refused.value)
    assert str(db) in text and "backup" in text and "--db" in text
    assert db.read_bytes() == before  # nothing written to a damaged store
    done = _cli(db)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot be served" in done.stderr and "Traceback" not in done.stderr


async def test_a_deleted_wal_after_a_kill_is_refused_not_served_empty(tmp_path):
    db = tmp_path / "p.db"
    _killed_after(db, 12)
    wal = Path(str(db) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    wal.unlink()
    with pytest.raises(StoreDamaged, match="holds 0 commands but 12 were acknowledged"):
        PaperService(CONFIG, db=db)


async def test_an_older_copy_or_a_missing_file_is_refused(tmp_path):
    db = tmp_path / "p.db"
    await _placed(db, 3)
    older = tmp_path / "older.db"
    shutil.copy(db, older)
    await _placed_more(db, 2)
    shutil.copy(older, db)  # the file replaced by a backup from before the last 2 commands
    with pytest.raises(StoreDamaged, match="holds 3 commands but 5 were acknowledged"):
        PaperService(CONFIG, db=db)
    db.unlink()
    with pytest.raises(StoreDamaged, match="missing"):
        PaperService(CONFIG, db=db)
    assert not db.exists()


async def _placed_more(db: Path, count: int) -> None:
    service = PaperService(CONFIG, db=db)
    await service.open()
    for i in range(count):
        await service.command("order", {**ORDER, "client_id": f"m{i}"})
    service.close()


async def test_an_intact_database_after_a_kill_starts_with_everything(tmp_path):
    db = tmp_path / "p.db"
    _killed_after(db, 7)
    service = PaperService(CONFIG, db=db)
    assert await service.open() == 7
    assert service.store.counts()["orders"] == 7
    service.close()
