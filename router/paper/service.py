"""The paper-trading service: accounts, orders through the executor, the simulated market, replay.

Everything that changes state runs under one ``asyncio.Lock``, one command at a time, between
market ticks: an order (single-venue, routed, or a hedged multi-leg order, all through
:class:`router.execution.Executor` with the margin check before every child), an amend or a cancel
of a working order, a new subaccount, a collateral transfer, or a manual step of simulated time.
Each command is validated completely first (router/paper/requests.py), then applied, then made
durable (:class:`router.paper.store.Store`, one fsync'd transaction), and only then answered; an
order is logged (its fsync'd commit in the store's worker thread) before it is applied, so the
fsync overlaps the routing, and its result follows without an fsync (store.py says why that is
as durable).
Because the market evolves deterministically between commands (seeded per tick), the state is a
function of the command log; :meth:`PaperService.open` rebuilds it by replaying the log and checks
every replayed result against the stored one.

The seams: request parsing and validation (requests.py), the order lifecycle (desk.py), views
(views.py), durability (store.py: the database; snapshot.py and declared.py: the declared state
snapshots save; this module: commit, snapshot, restore), the venue server bridge (venue.py).

Order kinds (JSON bodies, numbers as decimal strings; see openapi.json):

- routed: ``{client_id, account, subaccount?, symbol, side, qty | quote_qty, limit?, venues?,
  tif?}``; one venue in ``venues`` makes it a single-venue order. ``tif`` "ioc" (default) ends
  after one execution; "gtc" (needs ``qty`` and ``limit``) keeps its residual working: it is
  retried after every tick in which a venue of the order quotes within the limit, until filled,
  amended or cancelled.
- multi-leg: ``{client_id, account, subaccount?, legs: [...], on_hedge_failure?, ...}`` with
  legs as in the ``crossroute execute`` order file (router/execution/order.py).

Errors: every refusal is a :class:`PaperError` with an HTTP status (400 malformed, 404 unknown
account/order, 409 client id reused for another order or order not open, 422 refused by a margin
rule) naming the field, the value and what is allowed; a refused command changes nothing and
never touches the durable state. A command that fails partway (500, a bug or a disk error) is
rolled back to the last durable state: it changes nothing in memory or in the database.

Snapshots: every ``snapshot_every`` commands or ``snapshot_every_ticks`` ticks the declared state
is written to the store; a restart loads the newest and replays the tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.app import DEFAULT_CONFIG, MAIN_SUBACCOUNT, build_margin, load_market
from router.execution.executor import DEFAULT_CHILD_TIMEOUT_SECS
from router.execution.faults import Fault, FaultInjectingVenue, faults_from_dict, inject_faults
from router.model.errors import ConfigError, MarginError
from router.paper.declared import DECLARED
from router.paper.desk import OrderDesk, Outbox, canonical, dec
from router.paper.durable import Snapshots
from router.paper.errors import PaperError
from router.paper.journal import PaperJournal
from router.paper.market import MarketSimulator, SimParams, TickReport, price_text
from router.paper.requests import (
    parse_amend,
    parse_cancel,
    parse_order,
    parse_port,
    parse_step,
    parse_subaccount,
    parse_transfer,
)
from router.paper.snapshot import SnapshotError
from router.paper.store import MEMORY, LoggedCommand, ReplayMismatch, Store, StoredEvent
from router.paper.views import AccountViews, value_text

__all__ = [
    "COMMANDS",
    "SNAPSHOT_EVERY",
    "SNAPSHOT_EVERY_TICKS",
    "PaperError",
    "PaperService",
]

log = logging.getLogger("crossroute.paper")
SNAPSHOT_EVERY = 1000  # commands between snapshots: restart replays at most this many
SNAPSHOT_EVERY_TICKS = 600  # ticks between snapshots (10 min at 1 tick/s): ~2-4 s of tick replay
COMMANDS = ("order", "amend", "cancel", "subaccount", "transfer", "port", "step", "venue")


class PaperService:
    """The paper market, its accounts and their orders; optionally persisted to ``db``.

    ``config``: market TOML path(s) (``router.app.load_market``). ``params``: simulator settings;
    a database remembers the settings and the config it was created with and refuses others.
    Call :meth:`open` (replay) before use and :meth:`close` after.
    """

    def __init__(
        self,
        config: str | Path | Sequence[str | Path] = DEFAULT_CONFIG,
        *,
        db: str | Path | None = None,
        params: SimParams | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        snapshot_every_ticks: int = SNAPSHOT_EVERY_TICKS,
        faults: Sequence[Fault] | None = None,
        child_timeout_secs: Decimal | None = None,
    ) -> None:
        for name, value in (
            ("snapshot_every", snapshot_every),
            ("snapshot_every_ticks", snapshot_every_ticks),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("<paper>", name, value, "an integer >= 1")
        paths = [config] if isinstance(config, (str, Path)) else list(config)
        self.config_paths = [str(p) for p in paths]
        config_sha256 = (
            hashlib.sha256(b"".join(Path(p).read_bytes() for p in paths)).hexdigest()
            if all(Path(p).exists() for p in paths)
            else ""
        )
        self.market = load_market(paths if len(paths) > 1 else paths[0])
        # Without a file the log and its snapshots live in an in-memory SQLite database: the same
        # code path (and the same all-or-nothing recovery) with no durability.
        self.store = Store(db if db is not None else MEMORY)
        stored = self.store.init_meta(
            {
                "schema": 1,
                "config_sha256": config_sha256,
                "params": (params or SimParams()).to_json_dict(),
            }
        )
        if stored["config_sha256"] != config_sha256:
            raise ConfigError(
                str(db),
                "config",
                ", ".join(self.config_paths),
                "the config this database was created with (its SHA-256 differs)",
            )
        if params is not None and stored["params"] != params.to_json_dict():
            raise ConfigError(
                str(db),
                "params",
                json.dumps(params.to_json_dict(), sort_keys=True),
                "the simulator settings this database was created with: "
                + json.dumps(stored["params"], sort_keys=True),
            )
        self.params = SimParams(**stored["params"])
        self.faults, self.child_timeout_secs = self._fault_schedule(db, faults, child_timeout_secs)
        # The executor's view of the venues: the scheduled faults sit between it and the venues
        # (the simulator's makers and arbitrageurs trade on the venues directly).
        self.adapters = inject_faults(self.market.adapters, self.faults)
        self.snapshot_every = snapshot_every
        self.snapshot_every_ticks = snapshot_every_ticks
        self.journal = PaperJournal(self._journal_t_ns)
        setup = build_margin(self.market, journal=self.journal)
        self.ledger = setup.ledger
        self.perp_markets = setup.perp_markets
        for account in self.market.config.accounts:
            if account.name == setup.account:
                continue
            sub_id = self.ledger.open_subaccount(account.name, MAIN_SUBACCOUNT)
            for asset, amount in account.balances:
                if amount > 0:
                    self.ledger.deposit(sub_id, asset, amount)
        self.sim = MarketSimulator(self.market, self.ledger, self.perp_markets, self.params)
        self.lock = asyncio.Lock()
        self.outbox = Outbox()
        self.views = AccountViews(self.market, self.ledger, self.sim, self.perp_markets)
        self.desk = OrderDesk(
            self.market,
            self.adapters,
            self.child_timeout_secs,
            self.ledger,
            self.perp_markets,
            self.journal,
            self.store,
            lambda: (self.sim.tick, self.sim.t_ns),
            self.outbox,
            self._account_event,
        )
        self.listeners: set[asyncio.Queue] = set()
        self.replaying = False
        self.needs_recovery = False  # a venue-server call applied but not made durable
        self.recoveries = 0  # rollbacks to the durable state since start (a refusal is none)
        # The attached venue server (router/paper/venue.py): replays a logged call; its digest.
        self._venue_replay: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self._venue_digest: Callable[[], str] | None = None
        self.views.sample_pnl()
        if self.sim.replay is not None:
            stored = self.store.init_meta({"replay_sha256": self.sim.replay.sha256})
            if stored["replay_sha256"] != self.sim.replay.sha256:
                raise ConfigError(
                    str(db),
                    "replay",
                    self.params.replay_path,
                    "the data file this database was created with (its SHA-256 differs)",
                )
        # Part 0 of the snapshots; attach_venue() adds the venue server's (router/paper/durable.py).
        self.snapshots = Snapshots(DECLARED)
        self._commands_since_snapshot = 0
        self._snapshot_tick = 0
        self.snapshots.attach(
            [
                self.desk.state,
                self.views.state,
                self.sim,
                self.ledger,
                self.journal,
                *self.market.venues.values(),
                # a fault schedule's progress (children counted, a venue gone silent) is state
                *(a for a in self.adapters.values() if isinstance(a, FaultInjectingVenue)),
            ],
            keep=[self.market, self.market.config, self.params, *self.market.adapters.values()],
        )

    def _fault_schedule(
        self,
        db: str | Path | None,
        faults: Sequence[Fault] | None,
        child_timeout_secs: Decimal | None,
    ) -> tuple[tuple[Fault, ...], Decimal]:
        """The fault schedule and child timeout of this database: stored when it is created, so a
        restart without ``--faults`` continues the same schedule (its progress is in the state);
        a different one given for an existing database is refused, as the command log was
        acknowledged under the stored one."""
        given = {
            "faults": [
                {k: str(v) if k == "share" else v for k, v in f.to_json_dict().items()}
                for f in (faults or ())
            ],
            "child_timeout_secs": str(child_timeout_secs or DEFAULT_CHILD_TIMEOUT_SECS),
        }
        stored = self.store.init_meta(given)
        for key, flag in (("faults", "--faults"), ("child_timeout_secs", "--child-timeout")):
            explicit = faults is not None if key == "faults" else child_timeout_secs is not None
            if explicit and stored[key] != given[key]:
                raise ConfigError(
                    str(db),
                    flag,
                    json.dumps(given[key], sort_keys=True),
                    "the setting this database was created with: "
                    + json.dumps(stored[key], sort_keys=True),
                )
        schedule = faults_from_dict(
            {"faults": stored["faults"]},
            f"{db or '<paper>'} (stored fault schedule)",
            list(self.market.adapters),
        )
        return schedule, Decimal(stored["child_timeout_secs"])

    def _journal_t_ns(self) -> int:
        sim = getattr(self, "sim", None)  # the ledger journals its setup before the simulator
        return self.params.start_ns if sim is None else sim.t_ns

    def attach_venue(
        self,
        roots: Sequence[Any],
        replay: Callable[[dict[str, Any]], dict[str, Any]],
        digest: Callable[[], str],
    ) -> None:
        """Join the venue server (router/paper/venue.py, fresh at tick 0) to snapshots and
        recovery (its engine and ledger, ``roots``), ``venue`` command replay and the digest."""
        if self._venue_replay is not None:
            raise ConfigError("<paper>", "venue_server", "twice", "one venue server")
        self.snapshots.attach(roots)
        self._venue_replay = replay
        self._venue_digest = digest

    # -- names the API reads -----------------------------------------------------------------------

    def accounts(self) -> list[str]:
        return self.views.accounts()

    def order_doc(self, client_id: str) -> dict[str, Any] | None:
        return self.desk.order_doc(client_id)

    def open_orders(self, account: str | None = None) -> list[dict[str, Any]]:
        """Working orders (oldest first), optionally of one account."""
        docs = sorted(self.desk.state.orders.values(), key=lambda d: d["seq"])
        return [d for d in docs if account is None or d["account"] == account]

    def account_view(self, account: str) -> dict[str, Any]:
        return self.views.account_view(
            account,
            sorted(
                cid
                for cid, w in self.desk.state.working.items()
                if w.sub_id.split("/", 1)[0] == account
            ),
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> int:
        """Load the newest snapshot, replay the commands logged after it, and return their number.

        Raises ReplayMismatch when a replayed result (or a snapshot's digest) differs from the
        stored one. O(state + tail of the log + ticks since the snapshot).
        """
        async with self.lock:
            return await self._restore()

    async def _restore(self) -> int:
        """Rebuild the last durable state: newest loadable snapshot (or genesis) + the log after it."""
        count = 0
        pending: StoredEvent | None = None
        self.replaying = True
        try:
            after = self._load_snapshot()
            # closed on leaving the loop: an open read statement would pin an old snapshot
            with contextlib.closing(self.store.events(after=after)) as events:
                for event in events:
                    if event.result is None:  # logged, its result commit lost: the last one
                        pending = event
                        break
                    while self.sim.tick < event.tick:
                        await self._tick()
                    result = await self._apply(event.kind, event.body)
                    if canonical(result) != event.result:
                        raise ReplayMismatch(
                            f"replay of command {event.seq} ({event.kind}) gave a different result "
                            f"than the one acknowledged; allowed: the same code and config",
                            seq=event.seq,
                            stored=event.result,
                            replayed=canonical(result),
                        )
                    count += 1
            target = self.store.ticks_done()
            while self.sim.tick < target:
                await self._tick()
        finally:
            self.replaying = False
            self.journal.drain()
            self.outbox.clear()
        self._commands_since_snapshot = count
        if pending is not None and await self._complete(pending):
            count += 1
            self._commands_since_snapshot = count
        return count

    async def _complete(self, event: StoredEvent) -> bool:
        """Run a command that was logged but whose result commit was lost (a kill or a power cut
        between the two commits; router/paper/store.py) as it first ran: the ticks before it
        live (their journal lines and rows went with that commit), then the command, then its
        result and rows. It was never acknowledged; a refusal deletes it. True if it completed."""
        while self.sim.tick < event.tick:
            await self._tick()
        try:
            result = await self._apply(event.kind, event.body)
        except PaperError:
            self.store.unlog(event.seq)
            return False
        self._flush(
            event=(event.kind, event.tick, event.t_ns, event.body, result),
            logged=LoggedCommand.done(event.seq),
        )
        return True

    def _load_snapshot(self) -> int:
        """Restore the newest snapshot that loads and matches its digest (else genesis); return
        the seq of the last command it contains (0 for genesis)."""
        for snap in self.store.snapshots():
            try:
                self.snapshots.load(snap.state)
            except SnapshotError as exc:
                log.warning("snapshot %s does not load (%s); trying an older one", snap.id, exc)
                continue
            if self.state_digest() != snap.digest:
                raise ReplayMismatch(
                    f"snapshot {snap.id} loads to another state than the one saved; allowed: the "
                    "same code and config",
                    seq=snap.event_seq,
                    stored=snap.digest,
                    replayed=self.state_digest(),
                )
            self._snapshot_tick = snap.tick
            return snap.event_seq
        self.snapshots.load_genesis()
        self._snapshot_tick = 0
        return 0

    def snapshot(self) -> int:
        """Write a snapshot of the whole state now (the caller holds the lock or is the only user);
        returns its id. One durable transaction; a crash during it leaves the older ones."""
        self._flush()
        blob = self.snapshots.dump()
        snapshot_id = self.store.write_snapshot(
            tick=self.sim.tick,
            journal_seq=self.journal.seq,
            digest=self.state_digest(),
            state=blob,
        )
        self._commands_since_snapshot = 0
        self._snapshot_tick = self.sim.tick
        return snapshot_id

    def _maybe_snapshot(self) -> None:
        if (
            self._commands_since_snapshot >= self.snapshot_every
            or self.sim.tick - self._snapshot_tick >= self.snapshot_every_ticks
        ):
            try:
                self.snapshot()
            except (
                Exception
            ):  # the log is complete without it: a failed snapshot costs restart time
                log.exception("snapshot failed; the command log still holds everything")
                self._commands_since_snapshot = 0
                self._snapshot_tick = self.sim.tick

    async def recover(self, target_tick: int) -> None:
        """Throw away the in-memory state and rebuild the durable one, then tick to ``target_tick``
        (ticks are deterministic and were never acknowledged). The caller holds the lock."""
        self.needs_recovery = False
        self.recoveries += 1
        await self._restore()
        while self.sim.tick < target_tick:
            await self._tick()

    def close(self) -> None:
        """Make the tick count durable (a clean shutdown loses no simulated time) and close."""
        self._flush()
        self.store.close()

    # -- commands ----------------------------------------------------------------------------------

    async def command(self, kind: str, body: Any) -> dict[str, Any]:
        """Validate one command, apply it, make it durable, publish it, return its result (the
        acknowledgement). A refusal (:class:`PaperError`) changes nothing and restores nothing."""
        if kind not in COMMANDS or kind == "venue":
            raise PaperError(400, "kind", kind, " | ".join(c for c in COMMANDS if c != "venue"))
        if not isinstance(body, dict):
            raise PaperError(400, "body", type(body).__name__, "a JSON object")
        async with self.lock:
            t_ns = self.sim.t_ns
            tick = self.sim.tick
            logged: LoggedCommand | None = None
            try:
                if kind == "order":
                    # Validated, then logged (its fsync runs in the store's thread while the
                    # executor routes it), then run; other commands are applied, then committed.
                    request = parse_order(body, self.market, self.ledger)
                    logged = self.store.log_command(kind, tick, t_ns, body)
                    result = await self.desk.place(request)
                else:
                    result = await self._apply(kind, body)
                self._flush(event=(kind, tick, t_ns, body, result), logged=logged)
            except PaperError:
                self._unlog(logged)
                raise  # refused before anything changed (each command's contract)
            except BaseException as exc:
                # Partway through (a venue raised after a child fill, the disk refused the commit,
                # the task was cancelled): nothing was acknowledged, so return to the durable
                # state plus the unacknowledged ticks before this command, as if it never ran.
                log.exception("%s command failed partway; rolling back", kind)
                self._unlog(logged)
                await self.recover(tick)
                if not isinstance(exc, Exception):
                    raise
                raise PaperError(
                    500,
                    kind,
                    type(exc).__name__,
                    "a command that completes",
                    message=f"internal error while applying the {kind} command ({type(exc).__name__}); "
                    "it was rolled back and changed nothing",
                ) from None
            self._commands_since_snapshot += 1
            self._maybe_snapshot()
            return result

    def record_venue(self, body: dict[str, Any], result: dict[str, Any]) -> None:
        """Make a venue-server call that the engine just applied durable, as a ``venue`` command
        (the caller holds the lock; during replay nothing is recorded). If the commit raises,
        ``needs_recovery`` is set: the caller must :meth:`recover` before releasing the lock."""
        if self.replaying:
            return
        try:
            self._flush(event=("venue", self.sim.tick, self.sim.t_ns, body, result))
        except BaseException:
            self.needs_recovery = True  # applied in memory, not durable: roll back
            raise
        self._commands_since_snapshot += 1
        self._maybe_snapshot()

    async def tick(self, count: int = 1) -> None:
        """Advance simulated time by ``count`` ticks (the wall-clock driver calls this).

        All or nothing like a command: a tick that raises leaves the state as before the call."""
        async with self.lock:
            start = self.sim.tick
            try:
                for _ in range(count):
                    await self._tick()
                if self.outbox.fills or self.outbox.orders:
                    self._flush()
            except BaseException:
                log.exception("tick failed partway; rolling back to tick %d", start)
                await self.recover(start)
                raise
            self._maybe_snapshot()
            self.store.maybe_checkpoint()  # here, between ticks, not inside a command's commit

    def flush_ticks(self) -> None:
        """Write the tick count (and the journal so far) without a command. Without an fsync
        unless fills or order changes are pending: simulated time alone was never acknowledged,
        and the next command's fsync covers it (router/paper/store.py)."""
        self._flush(durable=bool(self.outbox.fills or self.outbox.orders))
        self._maybe_snapshot()

    def _unlog(self, logged: LoggedCommand | None) -> None:
        """Take back a logged command that did not complete (refused, or failed partway): once
        its log commit is done, delete it, so neither a recovery nor a restart runs it. If the
        log commit itself failed there is nothing to delete; if the delete fails, the command
        stays logged and the recovery (or the next start) completes it from the log."""
        if logged is None:
            return
        try:
            seq = logged.seq()
        except Exception:
            return  # the command never reached the log
        if seq is not None:
            try:
                self.store.unlog(seq)
            except Exception:
                log.exception("could not take back logged command %s", seq)

    def _flush(
        self,
        event: tuple[str, int, int, dict, dict] | None = None,
        *,
        durable: bool = True,
        logged: LoggedCommand | None = None,
    ) -> None:
        if self.replaying:
            return
        # The logged command's own commit (and fsync) first: its result follows it in the WAL.
        seq = None if logged is None else logged.seq()
        # If the commit raises, the caller recovers the whole state (journal numbering included).
        self.store.commit(
            tick=self.sim.tick,
            event=event,
            orders=list(self.outbox.orders.values()),
            fills=self.outbox.fills,
            journal=self.journal.drain(),
            durable=durable,
            logged=seq,
        )
        events = list(self.outbox.events)
        self.outbox.clear()
        for message in events:
            self._publish(message)

    async def _apply(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate (read-only, PaperError on any fault) and then apply one command."""
        if kind == "order":
            return await self.desk.place(parse_order(body, self.market, self.ledger))
        if kind == "amend":
            client_id, limit, qty = parse_amend(body)
            doc = self.desk.amend(client_id, limit, qty)
            self._account_event(doc["subaccount"])
            return doc
        if kind == "cancel":
            doc = self.desk.cancel(parse_cancel(body))
            self._account_event(doc["subaccount"])
            return doc
        if kind == "subaccount":
            return self._open_subaccount(*parse_subaccount(body, self.ledger))
        if kind == "transfer":
            return self._transfer(parse_transfer(body, self.ledger))
        if kind == "port":
            return self._port(parse_port(body, self.ledger))
        if kind == "venue":
            if self._venue_replay is None:
                raise PaperError(
                    400, "kind", kind, "a command other than 'venue' (no venue server attached)"
                )
            return self._venue_replay(body)
        ticks = parse_step(body)
        for _ in range(ticks):
            await self._tick()
        return {"tick": self.sim.tick, "t_ns": self.sim.t_ns}

    # -- accounts ----------------------------------------------------------------------------------

    def _open_subaccount(self, account: str, name: str) -> dict[str, Any]:
        sub_id = self.ledger.open_subaccount(account, name)
        self._account_event(sub_id)
        return {"subaccount": sub_id}

    def _transfer(self, request: Any) -> dict[str, Any]:
        try:
            self.ledger.transfer_collateral(
                request.src, request.dst, request.asset, request.amount_text
            )
        except MarginError as exc:  # refused before anything changed (the ledger's contract)
            raise _refused(exc, "amount", request.amount_text) from None
        self._account_event(request.src)
        self._account_event(request.dst)
        return {
            "account": request.account,
            "from": request.src,
            "to": request.dst,
            "asset": request.asset,
            "amount": request.amount_text,
        }

    def _port(self, request: Any) -> dict[str, Any]:
        """Port part of a cross position between two subaccounts (the margin core's rule: entry
        price kept unless ``at_mark``; both sides keep headroom >= 0, else nothing moves)."""
        try:
            self.ledger.port_position(
                request.src,
                request.dst,
                request.symbol,
                request.size_text,
                at_mark=request.at_mark,
            )
        except MarginError as exc:
            raise _refused(exc, "size", request.size_text) from None
        self._account_event(request.src)
        self._account_event(request.dst)
        return {
            "account": request.account,
            "from": request.src,
            "to": request.dst,
            "symbol": request.symbol,
            "size": request.size_text,
            "at_mark": request.at_mark,
        }

    def _account_event(self, sub_id: str) -> None:
        self.outbox.events.append(self.views.margin_event(sub_id))

    # -- market ticks ------------------------------------------------------------------------------

    async def _tick(self) -> TickReport:
        report = await self.sim.step()
        for fill in report.arbitrage:
            self.outbox.events.append(
                {
                    "type": "arbitrage",
                    "venue": fill.venue,
                    "side": fill.side,
                    "qty": dec(fill.filled_qty),
                    "quote_amount": dec(fill.quote_amount),
                    "t_ns": self.sim.t_ns,
                }
            )
        for result in await self.desk.liquidate_due(self.sim.update_perp_marks):
            self._record_liquidation(result)
        await self.desk.work_all()
        if self.sim.tick % self.params.pnl_every_ticks == 0:
            self.views.sample_pnl()
        self.outbox.events.append(
            {
                "type": "tick",
                "tick": self.sim.tick,
                "t_ns": self.sim.t_ns,
                "refs": {s: price_text(p) for s, p in sorted(self.sim.refs.items())},
            }
        )
        return report

    def _record_liquidation(self, result: Any) -> None:
        """Publish a liquidation the desk ran (its fills are already recorded)."""
        self.outbox.events.append(
            {
                "type": "liquidation",
                "subaccount": result.subaccount,
                "steps": len(result.steps),
                "ended": result.ended,
                "unfilled": list(result.unfilled),
                "bad_debt": value_text(result.bad_debt_units),
            }
        )
        self._account_event(result.subaccount)

    # -- reads -------------------------------------------------------------------------------------

    def status(self, *, digest: bool = True) -> dict[str, Any]:
        """The service's figures; ``digest=False`` leaves out ``state_digest`` (O(whole state):
        the terminal's status line, refreshed every tick, does not need it)."""
        state = self.desk.state
        figures = {
            "status": "ok",
            "tick": self.sim.tick,
            "t_ns": self.sim.t_ns,
            "refs": {s: price_text(p) for s, p in sorted(self.sim.refs.items())},
            "orders": state.order_count,
            "working_orders": len(state.working),
            "fills": state.next_fill_id - 1,
            "journal_seq": self.journal.seq,
            "accounts": {
                a: {
                    "value": value_text(self.views.account_value(a)),
                    "pnl": value_text(self.views.pnl_units(a)),
                }
                for a in self.accounts()
            },
        }
        if digest:
            figures["state_digest"] = self.state_digest()
        return figures

    def state_digest(self) -> str:
        """SHA-256 of market, ledger and open-order state: equal digests mean equal states (finished
        orders are in the store, counted by ``order_count``)."""
        state = self.desk.state
        orders = json.dumps(
            [state.orders[c] for c in sorted(state.orders)], sort_keys=True, default=str
        )
        working = repr(
            sorted(
                (c, str(w.remaining), w.attempts, str(w.leg.limit_price))
                for c, w in state.working.items()
            )
        )
        text = "|".join(
            (
                self.sim.state_digest(),
                repr(self.ledger.snapshot()),
                orders,
                working,
                str(state.next_fill_id),
                str(state.order_count),
                self._venue_digest() if self._venue_digest is not None else "",
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()

    # -- streaming ---------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self.listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.listeners.discard(queue)

    def _publish(self, message: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a client that does not read is dropped, not waited for
                self.listeners.discard(queue)

    def _check(self) -> None:
        """Assert the invariants: the ledger's double entry and caches, the books uncrossed,
        working orders open with a positive residual, fill ids dense."""
        self.ledger._check()
        self.sim._check()
        self.desk.check()


def _refused(exc: MarginError, field: str, value: str) -> PaperError:
    """The margin core's refusal as the API's error: 400 for a bad value (the core names the
    field), 422 for a valid request the account cannot take (headroom, limits)."""
    return PaperError(
        400 if exc.details.get("field") else 422,
        exc.details.get("field") or field,
        value,
        exc.details.get("allowed") or str(exc),
        message=str(exc),
    )
