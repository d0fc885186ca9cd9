"""SQLite persistence of the paper service: the command log, orders, fills, journal, PnL samples.

The service's state is a deterministic function of (config, simulator settings, the commands in
order, and the tick count before each command), so the store keeps exactly that as the source of
truth, the ``events`` table, and beside it the derived rows a client reads (``orders``, ``fills``,
``journal``, ``pnl``). A restart replays ``events`` and checks each replayed result against the
stored one (:class:`ReplayMismatch` if they differ), so "the state equals the acknowledged
history" is checked on every start, not assumed.

Durability: every command is made durable before the service answers. WAL mode with
``synchronous=FULL``: in WAL mode NORMAL already survives a killed process (the WAL pages are in
the OS page cache once the write returns), but NORMAL may lose the last transactions on a power
cut or kernel crash; FULL fsyncs the WAL at every commit, so an acknowledged order survives
those too. Cost: one fsync per command, measured in docs/paper.md.

An order is logged before it runs (:meth:`Store.log_command`): the command alone (kind, tick,
t_ns, body, an empty result) is inserted and then committed, with its fsync, by a worker thread
while the service computes the order (reading through a second connection meanwhile), then
:meth:`Store.commit` writes the result and the derived rows without an fsync (``logged=seq``).
The ack waits for both, so the fsync overlaps the routing instead of following it. Only the
command is the source of truth: a result commit lost to a power cut (or a kill between the two
commits) leaves the last event without a result, and the next start runs that command again from
the same state (deterministic: the same result and rows; it is never acknowledged twice, the
answer is the stored doc). An order refused after it was logged (a client id taken, the
executor's refusal) is deleted again with an fsync (:meth:`Store.unlog`); the WAL is one ordered
file, so the next command's fsync covers the result commits before it.

Only what nobody was promised is committed without an fsync (``durable=False``): the tick
watermark the wall-clock driver writes every 0.5 s. The WAL is one ordered file, so the next
command's fsync covers those frames too; a power cut can only lose simulated time that was never
acknowledged, and a restart ticks back to it (every command records its own tick). WAL checkpoints
(copying the WAL into the database, with an fsync of each) are kept off the command path:
:meth:`Store.maybe_checkpoint` runs between ticks every ``CHECKPOINT_COMMITS`` commits, and
SQLite's own automatic checkpoint, which would run inside whichever commit crossed its threshold
(1000 pages by default, about every 75 routed orders), is only a backstop at 4000 pages.

``snapshots`` holds the whole state after a given command (its ``event_seq``), each written in its
own transaction, so a restart replays only the tail of ``events`` after the newest one.

Start checks (:class:`StoreDamaged` refuses to open, names the file, what is wrong and what to do;
nothing is written to a damaged store): ``PRAGMA integrity_check`` (overwritten or truncated
pages), and the count of acknowledged commands kept in a second place, the ``<db>.acks`` file
beside the database: it is rewritten after each durable commit, so a database holding fewer
commands than were acknowledged (its WAL deleted after a kill, the file replaced by an older copy)
is caught instead of served as an empty or older history. The count is a plain ``pwrite`` after
the fsync'd commit (no second fsync): after a power cut it can only lag the database, never lead it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.model.errors import ConfigError, CrossrouteError

__all__ = [
    "MEMORY",
    "SCHEMA_VERSION",
    "LoggedCommand",
    "ReplayMismatch",
    "Store",
    "StoreDamaged",
    "StoredEvent",
    "StoredSnapshot",
]

MEMORY = ":memory:"  # a database that lives and dies with the process (the service without --db)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, tick INTEGER NOT NULL, t_ns INTEGER NOT NULL,
    body TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, account TEXT NOT NULL, subaccount TEXT NOT NULL,
    status TEXT NOT NULL, created_seq INTEGER NOT NULL, updated_t_ns INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders(account, created_seq);
CREATE TABLE IF NOT EXISTS fills (
    fill_id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, account TEXT NOT NULL, t_ns INTEGER NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fills_by_account ON fills(account, fill_id);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, line TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY, event_seq INTEGER NOT NULL, tick INTEGER NOT NULL, journal_seq INTEGER NOT NULL,
    digest TEXT NOT NULL, state BLOB NOT NULL);
"""

CHECKPOINT_COMMITS = 64  # commits (a routed order adds ~13 WAL pages) between checkpoints

KEEP_SNAPSHOTS = (
    2  # the newest is enough to restart; one older survives a snapshot that will not load
)


class ReplayMismatch(CrossrouteError):
    """Replaying the command log did not reproduce a stored result: the database and the code (or
    the config) disagree; the service refuses to start rather than serve a different history."""


class StoreDamaged(CrossrouteError):
    """The database is corrupt or lost acknowledged commands: the service refuses to start on it."""


_WHAT_TO_DO = (
    "the file is left untouched; restore it (and its -wal file) from a backup, or start a new "
    "paper market with another --db path"
)
_ACKS_BYTES = 21  # 20 digits and a newline, rewritten in place


def _damaged(path: str, problem: str) -> StoreDamaged:
    return StoreDamaged(
        f"the paper database {path} cannot be served: {problem}; {_WHAT_TO_DO}",
        field="--db",
        value=path,
        allowed="an intact paper database",
    )


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One acknowledged command: its log position, tick count before it, body and result
    (None for a command logged whose result commit was lost: see the module docstring)."""

    seq: int
    kind: str
    tick: int
    t_ns: int
    body: dict[str, Any]
    result: dict[str, Any] | None


class LoggedCommand:
    """A command being logged by :meth:`Store.log_command`: :meth:`seq` waits for its fsync'd
    commit and returns its log position (None for the in-memory store, which inserts the command
    with its result in :meth:`Store.commit`)."""

    def __init__(self, future: Future[int] | None) -> None:
        self.future = future

    @classmethod
    def done(cls, seq: int) -> LoggedCommand:
        """A command already in the log (found without a result on start)."""
        future: Future[int] = Future()
        future.set_result(seq)
        return cls(future)

    def seq(self) -> int | None:
        """The command's seq once it is durable (blocks until then; re-raises the commit's error)."""
        return None if self.future is None else self.future.result()


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """The whole state after command ``event_seq`` at tick ``tick`` (see router/paper/snapshot.py)."""

    id: int
    event_seq: int
    tick: int
    journal_seq: int
    digest: str
    state: bytes


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class Store:
    """One SQLite database file (WAL). Not thread-safe: the service calls it from its event loop.

    Every write method is one transaction; when it returns, the data is on disk (fsync'd WAL).
    Reads are O(rows returned) through the indexes.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._acks_fd: int | None = None
        self._commits = 0  # commits since the last checkpoint
        acked = 0 if self.path == MEMORY else self._read_acks()
        if acked and not Path(self.path).exists():
            raise _damaged(self.path, f"it is missing, but {acked} commands were acknowledged")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(
                self.path, "--db", self.path, f"a writable SQLite database file ({exc})"
            ) from None
        if self.path != MEMORY:
            self._verify(acked)
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA wal_autocheckpoint=4000")  # pages: a backstop only
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(
                self.path, "--db", self.path, f"a writable SQLite database file ({exc})"
            ) from None
        if mode.lower() != "wal" and self.path != MEMORY:
            raise ConfigError(
                self.path, "--db", self.path, f"a file that supports WAL (got journal_mode {mode})"
            )
        # ``_db`` writes (every transaction; the worker thread commits a logged command on it),
        # ``_read`` reads. Two connections so that reads while a command is being logged (the
        # desk looks up client ids while the worker commits) do not wait for the fsync; all
        # writes on one, so its page cache stays valid from one commit to the next (SQLite drops
        # a connection's cache whenever another one wrote). In memory both are the one database.
        self._read = self._db
        self._log_thread: ThreadPoolExecutor | None = None
        if self.path != MEMORY:
            self._acks_fd = os.open(self._acks_path(), os.O_RDWR | os.O_CREAT, 0o644)
            self._write_acks(self.last_event_seq())
            self._read = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._log_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paper-log")

    def close(self) -> None:
        if self._log_thread is not None:
            self._log_thread.shutdown(wait=True)  # a command being logged finishes its commit
            self._log_thread = None
        if self._read is not self._db:
            self._read.close()
        self._db.close()
        if self._acks_fd is not None:
            os.close(self._acks_fd)
            self._acks_fd = None

    # -- start checks ------------------------------------------------------------------------------

    def _acks_path(self) -> str:
        return self.path + ".acks"

    def _read_acks(self) -> int:
        """The acknowledged-command count of the ``.acks`` file (0 when there is none)."""
        try:
            text = Path(self._acks_path()).read_bytes()[:_ACKS_BYTES].decode("ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise _damaged(
                self.path, f"its {self._acks_path()} file is unreadable ({exc})"
            ) from None
        if not text.isdigit():
            raise _damaged(self.path, f"its {self._acks_path()} file holds {text[:24]!r}")
        return int(text)

    def _verify(self, acked: int) -> None:
        """Refuse a corrupt database, or one holding fewer commands than were acknowledged.
        O(database size): SQLite reads every page."""
        try:
            rows = [row[0] for row in self._db.execute("PRAGMA integrity_check(5)")]
            has_events = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
            ).fetchone()
            held = (
                self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
                if has_events
                else 0
            )
        except sqlite3.OperationalError as exc:  # not a file SQLite can open (a directory)
            self._db.close()
            raise ConfigError(
                self.path, "--db", self.path, f"a writable SQLite database file ({exc})"
            ) from None
        except sqlite3.DatabaseError as exc:  # not a database, or malformed pages
            self._db.close()
            raise _damaged(self.path, f"SQLite cannot read it ({exc})") from None
        if rows != ["ok"]:
            self._db.close()
            raise _damaged(self.path, f"PRAGMA integrity_check reports {'; '.join(rows)}")
        if held < acked:
            self._db.close()
            raise _damaged(
                self.path,
                f"it holds {held} commands but {acked} were acknowledged (counted in "
                f"{self._acks_path()}): its -wal file was lost or the file was replaced",
            )

    def _write_acks(self, seq: int) -> None:
        if self._acks_fd is not None:
            os.pwrite(self._acks_fd, b"%020d\n" % seq, 0)

    # -- meta --------------------------------------------------------------------------------------

    def meta(self, key: str) -> Any:
        row = self._read.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def init_meta(self, values: dict[str, Any]) -> dict[str, Any]:
        """Store ``values`` for keys not yet set; return every stored value for those keys."""
        with self._tx():
            for key, value in values.items():
                self._db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, _dumps(value))
                )
        return {key: self.meta(key) for key in values}

    # -- writes ------------------------------------------------------------------------------------

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: Any, *_: Any) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self) -> Store._Tx:
        return Store._Tx(self._db)

    def log_command(self, kind: str, tick: int, t_ns: int, body: dict[str, Any]) -> LoggedCommand:
        """Start making one command durable before it runs: its event row (without a result) is
        inserted here and committed, with the fsync, by the worker thread while the caller
        computes the result; :meth:`commit` with ``logged=`` the seq then adds it. Until
        :meth:`LoggedCommand.seq` returns, the caller only reads (the reads go to the other
        connection and do not wait for the fsync).

        Returns once the worker is in the commit (SQLite lets go of the GIL for the fsync), so the
        fsync runs beside the caller's work instead of after a GIL switch; the insert is done
        here, so the worker holds the GIL as briefly as possible. The in-memory store logs nothing
        here (no fsync to overlap: :meth:`commit` inserts the command with its result).
        """
        worker = self._log_thread
        if worker is None:
            return LoggedCommand(None)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            seq = db.execute(
                "INSERT INTO events(kind, tick, t_ns, body, result) VALUES (?, ?, ?, ?, '')",
                (kind, tick, t_ns, _dumps(body)),
            ).lastrowid
        except BaseException:
            db.execute("ROLLBACK")
            raise
        assert seq is not None
        started = threading.Event()
        future = worker.submit(self._commit_log, seq, started)
        started.wait()
        return LoggedCommand(future)

    def _commit_log(self, seq: int, started: threading.Event) -> int:
        """The worker's half of :meth:`log_command`: signal, then commit (the fsync)."""
        db = self._db
        started.set()
        try:
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return seq

    def unlog(self, seq: int) -> None:
        """Delete a logged command that was refused or failed before its result was committed
        (it was never acknowledged); durable, so a restart does not run it again."""
        with self._tx() as db:
            db.execute("DELETE FROM events WHERE seq = ? AND result = ''", (seq,))

    def commit(
        self,
        *,
        tick: int,
        event: tuple[str, int, int, dict[str, Any], dict[str, Any]] | None = None,
        orders: Sequence[dict[str, Any]] = (),
        fills: Sequence[dict[str, Any]] = (),
        journal: Sequence[tuple[int, str]] = (),
        durable: bool = True,
        logged: int | None = None,
    ) -> int | None:
        """Write one command (``event`` = kind, tick count before it, t_ns, body, result) with the
        rows it produced and the tick watermark ``tick``, in one durable transaction (without an
        fsync when ``durable`` is False: only for what was never acknowledged, see the module
        docstring). With ``logged`` (the seq :meth:`log_command` gave the event) the command is
        durable already: its result is added without an fsync. Returns the event's seq (None
        without one)."""
        if event is not None and not durable and logged is None:
            raise ValueError("a command is always committed durably")
        if logged is not None and event is None:
            raise ValueError("a logged command is committed with its result")
        seq = logged
        durable = durable and logged is None
        # An order command's result is the order's doc: encode it once for both rows.
        encoded: dict[int, str] = {}
        if not durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self._tx() as db:
                if event is not None:
                    kind, event_tick, t_ns, body, result = event
                    encoded[id(result)] = _dumps(result)
                    if logged is not None:
                        updated = db.execute(
                            "UPDATE events SET result = ? WHERE seq = ? AND result = ''",
                            (encoded[id(result)], logged),
                        ).rowcount
                        if updated != 1:
                            raise ValueError(f"command {logged} is not logged without a result")
                    else:
                        cursor = db.execute(
                            "INSERT INTO events(kind, tick, t_ns, body, result) VALUES (?, ?, ?, ?, ?)",
                            (kind, event_tick, t_ns, _dumps(body), encoded[id(result)]),
                        )
                        seq = cursor.lastrowid
                self._write_rows(db, tick, orders, fills, journal, encoded)
        finally:
            if not durable:
                self._db.execute("PRAGMA synchronous=FULL")
        self._commits += 1
        if seq is not None:
            self._write_acks(seq)  # after the durable commit: the count never leads the database
        return seq

    def _write_rows(
        self,
        db: sqlite3.Connection,
        tick: int,
        orders: Sequence[dict[str, Any]],
        fills: Sequence[dict[str, Any]],
        journal: Sequence[tuple[int, str]],
        encoded: dict[int, str],
    ) -> None:
        """The derived rows of one commit, inside its transaction."""
        for order in orders:
            doc = encoded.get(id(order)) or _dumps(order)
            db.execute(
                "INSERT INTO orders(client_id, account, subaccount, status, created_seq, updated_t_ns, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE SET status = excluded.status,"
                " updated_t_ns = excluded.updated_t_ns, doc = excluded.doc",
                (
                    order["client_id"],
                    order["account"],
                    order["subaccount"],
                    order["status"],
                    order["seq"],
                    order["updated_t_ns"],
                    doc,
                ),
            )
        db.executemany(
            "INSERT INTO fills(fill_id, client_id, account, t_ns, doc) VALUES (?, ?, ?, ?, ?)",
            [(f["fill_id"], f["client_id"], f["account"], f["t_ns"], _dumps(f)) for f in fills],
        )
        db.executemany("INSERT INTO journal(seq, line) VALUES (?, ?)", list(journal))
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('ticks_done', ?) ON CONFLICT(key) DO UPDATE "
            "SET value = excluded.value",
            (str(tick),),
        )

    def maybe_checkpoint(self) -> bool:
        """Copy the WAL into the database (a PASSIVE checkpoint: it never waits for readers)
        once ``CHECKPOINT_COMMITS`` commits have gone into it; True if it ran. Called between
        ticks, so no acknowledgement waits for it. O(pages in the WAL)."""
        if self._commits < CHECKPOINT_COMMITS or self.path == MEMORY:
            return False
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._commits = 0
        return True

    def write_snapshot(self, *, tick: int, journal_seq: int, digest: str, state: bytes) -> int:
        """Store a snapshot of the state after the last logged command, in one durable transaction,
        and drop all but the newest ``KEEP_SNAPSHOTS``. A crash before the commit leaves the
        previous snapshots and the log exactly as they were. Returns the snapshot's id."""
        with self._tx() as db:
            event_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            cursor = db.execute(
                "INSERT INTO snapshots(event_seq, tick, journal_seq, digest, state) VALUES (?, ?, ?, ?, ?)",
                (event_seq, tick, journal_seq, digest, state),
            )
            snapshot_id = cursor.lastrowid
            db.execute("DELETE FROM snapshots WHERE id <= ?", (snapshot_id - KEEP_SNAPSHOTS,))
        return snapshot_id

    # -- reads -------------------------------------------------------------------------------------

    def ticks_done(self) -> int:
        """The tick count last made durable (0 for a new database)."""
        value = self.meta("ticks_done")
        return 0 if value is None else int(value)

    def events(self, after: int = 0) -> Iterator[StoredEvent]:
        """Every acknowledged command with seq > ``after``, in order."""
        for seq, kind, tick, t_ns, body, result in self._read.execute(
            "SELECT seq, kind, tick, t_ns, body, result FROM events WHERE seq > ? ORDER BY seq",
            (after,),
        ):
            yield StoredEvent(
                seq, kind, tick, t_ns, json.loads(body), json.loads(result) if result else None
            )

    def snapshots(self) -> list[StoredSnapshot]:
        """The stored snapshots, newest first (at most ``KEEP_SNAPSHOTS``)."""
        return [
            StoredSnapshot(*row)
            for row in self._read.execute(
                "SELECT id, event_seq, tick, journal_seq, digest, state FROM snapshots ORDER BY id DESC"
            )
        ]

    def last_event_seq(self) -> int:
        row = self._read.execute("SELECT MAX(seq) FROM events").fetchone()
        return row[0] or 0

    def fills(
        self, *, account: str | None = None, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Oldest first, fill_id > ``after``."""
        return json.loads(self.fills_json(account=account, after=after, limit=limit))

    def fills_json(
        self,
        *,
        account: str | None = None,
        after: int = 0,
        before: int | None = None,
        limit: int = 100,
    ) -> str:
        """The fills as one JSON array text, oldest first: fill_id > ``after``, or with
        ``before`` the ``limit`` newest with fill_id < ``before`` (a page loading recent history).
        The stored documents are passed through as stored (no decode and re-encode)."""
        newest = before is not None
        sql, args = (
            "SELECT doc FROM fills WHERE fill_id " + ("< ?" if newest else "> ?"),
            [before if newest else after],
        )
        if account is not None:
            sql += " AND account = ?"
            args.append(account)
        sql += f" ORDER BY fill_id {'DESC' if newest else 'ASC'} LIMIT ?"
        args.append(limit)
        docs = [row[0] for row in self._read.execute(sql, args)]
        return "[" + ",".join(reversed(docs) if newest else docs) + "]"

    def order(self, client_id: str, *, max_seq: int | None = None) -> dict[str, Any] | None:
        """The stored doc of one order (None if unknown, or placed after order ``max_seq``).
        O(log orders): the primary key."""
        row = self._read.execute(
            "SELECT doc, created_seq FROM orders WHERE client_id = ?", (client_id,)
        ).fetchone()
        if row is None or (max_seq is not None and row[1] > max_seq):
            return None
        return json.loads(row[0])

    def orders(
        self, *, account: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest first (by order seq), optionally of one account and status. O(rows scanned)."""
        sql, args = "SELECT doc FROM orders WHERE 1 = 1", []
        for column, value in (("account", account), ("status", status)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY created_seq DESC LIMIT ?"
        args.append(limit)
        return [json.loads(row[0]) for row in self._read.execute(sql, args)]

    def retry_ids(self, client_id: str, *, max_seq: int) -> list[str]:
        """Stored client ids of the form ``<client_id>.<digits>`` placed up to order ``max_seq``.
        Client ids use only [A-Za-z0-9_.-], none of which GLOB treats specially."""
        rows = self._read.execute(
            "SELECT client_id FROM orders WHERE client_id GLOB ? AND created_seq <= ?",
            (f"{client_id}.[0-9]*", max_seq),
        )
        return [c for (c,) in rows if c[len(client_id) + 1 :].isdigit()]

    def journal(self, *, after: int = -1, limit: int = 100) -> list[str]:
        return [
            row[0]
            for row in self._read.execute(
                "SELECT line FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            )
        ]

    def counts(self) -> dict[str, int]:
        """Row counts per table (status views, tests)."""
        return {
            table: self._read.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("events", "orders", "fills", "journal", "snapshots")
        }
