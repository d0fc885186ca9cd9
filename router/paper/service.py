"""The paper-trading service: accounts, orders through the executor, the simulated market, replay.

Everything that changes state runs under one ``asyncio.Lock``, one command at a time, between
market ticks: an order (single-venue, routed, or a hedged multi-leg order, all through
:class:`router.execution.Executor` with the margin check before every child), a cancel, a new
subaccount, a collateral transfer, or a manual step of simulated time. Each command is applied,
then made durable (:class:`router.paper.store.Store`, one fsync'd transaction), and only then
answered. Because the market evolves deterministically between commands (seeded per tick), the
state is a function of the command log; :meth:`PaperService.open` rebuilds it by replaying the
log and checks every replayed result against the stored one.

Order kinds (JSON bodies, numbers as decimal strings; see openapi.json):

- routed: ``{client_id, account, subaccount?, symbol, side, qty | quote_qty, limit?, venues?,
  tif?}``; one venue in ``venues`` makes it a single-venue order. ``tif`` "ioc" (default) ends
  after one execution; "gtc" (needs ``qty`` and ``limit``) keeps its residual working: it is
  retried after every tick in which a venue of the order quotes within the limit, until filled
  or cancelled.
- multi-leg: ``{client_id, account, subaccount?, legs: [...], on_hedge_failure?, ...}`` with
  legs as in the ``crossroute execute`` order file (router/exec_order.py).

Errors: every refusal is a :class:`PaperError` with an HTTP status (400 malformed, 404 unknown
account/order, 409 client id reused for another order or order not cancellable, 422 refused by a
margin rule) naming the field, the value and what is allowed; a refused command changes nothing.
A command that fails partway (500) is rolled back to the last durable state (newest snapshot +
log, then the unacknowledged ticks): it changes nothing in memory or in the database.

Snapshots: every ``snapshot_every`` commands or ``snapshot_every_ticks`` ticks the whole state is
written to the store (router/paper/snapshot.py); a restart loads the newest and replays the tail.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import pickle
import re
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from router.app import DEFAULT_CONFIG, MAIN_SUBACCOUNT, build_margin, load_market
from router.execution.executor import Executor
from router.execution.journal import DecisionJournal
from router.execution.margin_gate import LedgerGate
from router.execution.order import MultiLegOrder, OrderLeg, order_from_dict
from router.execution.report import ExecutionReport
from router.model.errors import ConfigError, CrossrouteError, MarginError, RouteError
from router.paper.market import PRICE_SCALE, MarketSimulator, SimParams, TickReport, price_text
from router.paper.snapshot import SnapshotError, StateImage
from router.paper.store import MEMORY, ReplayMismatch, Store

__all__ = [
    "COMMANDS",
    "SNAPSHOT_EVERY",
    "SNAPSHOT_EVERY_TICKS",
    "PaperError",
    "PaperJournal",
    "PaperService",
]

log = logging.getLogger("crossroute.paper")
SNAPSHOT_EVERY = 1000  # commands between snapshots: restart replays at most this many
SNAPSHOT_EVERY_TICKS = (
    600  # ticks between snapshots (10 min at 1 tick/s): at most ~2-4 s of tick replay
)
# Service attributes that are wiring or process-local bookkeeping, never part of a snapshot.
_NOT_STATE = frozenset(
    {
        "config_paths",
        "config_sha256",
        "market",
        "store",
        "params",
        "lock",
        "listeners",
        "replaying",
        "venue_replay",
        "_parts",
        "snapshot_every",
        "snapshot_every_ticks",
        "_commands_since_snapshot",
        "_snapshot_tick",
        "needs_recovery",
        "digest_hooks",
    }
)

COMMANDS = ("order", "cancel", "subaccount", "transfer", "step", "venue")
MAX_CLIENT_ID = 48  # the executor's ids are <= 64 chars; retries append ".<n>"
MAX_WORKING_ORDERS = 200  # gtc orders are re-checked every tick: bound the per-tick work
MAX_STEP_TICKS = 100_000
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_ROUTED_KEYS = {
    "client_id",
    "account",
    "subaccount",
    "symbol",
    "side",
    "qty",
    "quote_qty",
    "limit",
    "venues",
    "tif",
    "slippage_bps",
}
_MULTI_KEYS = {
    "client_id",
    "account",
    "subaccount",
    "legs",
    "on_hedge_failure",
    "time_limit_secs",
    "max_rounds",
    "slippage_bps",
}
ZERO = Decimal(0)


class PaperError(CrossrouteError):
    """A refused request: ``status`` is the HTTP status; names the field, the value and what is allowed."""

    def __init__(
        self, status: int, field: str, value: Any, allowed: str, *, message: str | None = None
    ) -> None:
        text = message or f"{field}={value!r} is invalid; allowed: {allowed}"
        super().__init__(text, field=field, value=value, allowed=allowed)
        self.status = status
        self.field = field
        self.value = value
        self.allowed = allowed

    def to_json_dict(self) -> dict[str, Any]:
        value = (
            self.value if isinstance(self.value, (str, int, type(None), bool)) else repr(self.value)
        )
        return {
            "error": {
                "status": self.status,
                "message": self.message,
                "field": self.field,
                "value": value,
                "allowed": self.allowed,
            }
        }


class _LineWindow(list):
    """The journal's line list, emptied after each durable commit (the lines live in SQLite).

    ``len()`` counts every line ever appended, because the journal numbers each record with
    ``len(self._lines)``: draining must not restart ``seq``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0

    def __len__(self) -> int:
        return self.offset + super().__len__()

    def drain(self) -> list[tuple[int, str]]:
        lines = [(self.offset + i, line) for i, line in enumerate(list.__iter__(self))]
        self.offset += super().__len__()
        self.clear()
        return lines


class PaperJournal(DecisionJournal):
    """The decision journal with simulated-time stamps, drained to the store after each commit."""

    def __init__(self, clock: Any) -> None:
        super().__init__(None, clock=clock)
        self._lines = _LineWindow()

    def drain(self) -> list[tuple[int, str]]:
        """The lines written since the last drain, with their seq; forgets them. O(lines)."""
        return self._lines.drain()


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class _Working:
    """A gtc order's residual: a single leg retried after ticks until done or cancelled."""

    __slots__ = ("attempts", "client_id", "leg", "remaining", "slippage_bps", "sub_id")

    def __init__(
        self, client_id: str, sub_id: str, leg: OrderLeg, remaining: Decimal, slippage_bps: int
    ) -> None:
        self.client_id = client_id
        self.sub_id = sub_id
        self.leg = leg
        self.remaining = remaining
        self.attempts = 0
        self.slippage_bps = slippage_bps


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
    ) -> None:
        for name, value in (
            ("snapshot_every", snapshot_every),
            ("snapshot_every_ticks", snapshot_every_ticks),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError("<paper>", name, value, "an integer >= 1")
        paths = [config] if isinstance(config, (str, Path)) else list(config)
        self.config_paths = [str(p) for p in paths]
        self.config_sha256 = (
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
                "config_sha256": self.config_sha256,
                "params": (params or SimParams()).to_json_dict(),
            }
        )
        if stored["config_sha256"] != self.config_sha256:
            raise ConfigError(
                str(db),
                "config",
                self.config_paths,
                "the config this database was created with (its SHA-256 differs)",
            )
        if params is not None and stored["params"] != params.to_json_dict():
            raise ConfigError(
                str(db),
                "params",
                params.to_json_dict(),
                f"the simulator settings this database was created with: {stored['params']}",
            )
        params = SimParams(**stored["params"])
        self.params = params or SimParams()
        self.snapshot_every = snapshot_every
        self.snapshot_every_ticks = snapshot_every_ticks
        self.sim: MarketSimulator | None = None
        self.journal = PaperJournal(
            lambda: self.sim.t_ns if self.sim is not None else self.params.start_ns
        )
        setup = build_margin(self.market, journal=self.journal)
        self.ledger = setup.ledger
        self.perp_markets = setup.perp_markets
        self.gates: dict[str, LedgerGate] = {setup.sub_id: setup.gate}
        for account in self.market.config.accounts:
            if account.name == setup.account:
                continue
            sub_id = self.ledger.open_subaccount(account.name, MAIN_SUBACCOUNT)
            for asset, amount in account.balances:
                if amount > 0:
                    self.ledger.deposit(sub_id, asset, amount)
            self.gates[sub_id] = LedgerGate(self.ledger, sub_id, self.perp_markets)
        self.sim = MarketSimulator(self.market, self.ledger, self.perp_markets, self.params)
        self.lock = asyncio.Lock()
        # Open orders only (client_id -> doc): a finished order never changes again, so it lives
        # in the store's ``orders`` table alone (committed with the command that finished it) and
        # memory and snapshots stay flat however long the history grows. See :meth:`order_doc`.
        self.orders: dict[str, dict[str, Any]] = {}
        self.working: dict[str, _Working] = {}
        self.routes: deque[dict[str, Any]] = deque(maxlen=50)
        self.pnl: dict[str, deque[tuple[int, str]]] = {
            a: deque(maxlen=2000) for a in self.accounts()
        }
        self.start_value = {a: self.account_value(a) for a in self.accounts()}
        self.next_fill_id = 1
        self.order_count = 0
        self.listeners: set[asyncio.Queue] = set()
        self.replaying = False
        # Set by router.paper.api when the venue server shares this market: re-applies one logged
        # venue-server engine call during replay.
        self.venue_replay: Any = None
        # Extra state that equal services must share (the venue server's balances): callables
        # returning text, folded into state_digest.
        self.digest_hooks: list[Any] = []
        self._dirty_orders: dict[str, dict[str, Any]] = {}
        self._new_fills: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._sample_pnl()
        if self.sim.replay is not None:
            stored = self.store.init_meta({"replay_sha256": self.sim.replay.sha256})[
                "replay_sha256"
            ]
            if stored != self.sim.replay.sha256:
                raise ConfigError(
                    str(db),
                    "replay",
                    self.params.replay_path,
                    "the data file this database was created with (its SHA-256 differs)",
                )
        # Snapshot layout: part 0 is the service, the simulator, the ledger, the journal and the
        # venues; attach_state() adds parts (the venue server). Each part keeps its state at tick 0
        # (its genesis): recovery without a snapshot starts from there.
        self._parts: list[tuple[StateImage, bytes]] = []
        self.needs_recovery = False
        self._commands_since_snapshot = 0
        self._snapshot_tick = 0
        core = [self, self.sim, self.ledger, self.journal, *self.market.venues.values()]
        self.attach_state(
            core,
            keep=[self.market, self.market.config, self.params, *self.market.adapters.values()],
            exclude={0: _NOT_STATE, 1: frozenset({"replay"})},
        )

    def attach_state(
        self,
        roots: Sequence[Any],
        *,
        keep: Sequence[Any] = (),
        exclude: dict[int, frozenset[str]] | None = None,
    ) -> None:
        """Add stateful objects (fresh, at tick 0) to what snapshots and recovery save and restore.

        The venue server's engine registers here when it is mounted. ``exclude`` maps a root's
        position in ``roots`` to attribute names that are wiring. O(size of the roots' state).
        """
        shared = [obj for image, _ in self._parts for obj in image.roots]
        image = StateImage(roots, keep=[*shared, *keep], exclude=exclude)
        self._parts.append((image, image.dumps()))

    def _executor(self, gate: LedgerGate) -> Executor:
        # One executor per execution: its idempotency maps (client ids and child ids it has seen)
        # would otherwise grow with the history and enter every snapshot. The service checks
        # client ids itself, against the open orders and the store (:meth:`_check_client_id`).
        return Executor(
            self.market.adapters, gate, journal=self.journal, instruments=self.market.instruments()
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
        self.replaying = True
        try:
            after = self._load_snapshot()
            for event in self.store.events(after=after):
                while self.sim.tick < event.tick:
                    await self._tick()
                result = await self._apply(event.kind, event.body)
                if _canonical(result) != event.result:
                    raise ReplayMismatch(
                        f"replay of command {event.seq} ({event.kind}) gave a different result "
                        f"than the one acknowledged; allowed: the same code and config",
                        seq=event.seq,
                        stored=event.result,
                        replayed=_canonical(result),
                    )
                count += 1
            target = self.store.ticks_done()
            while self.sim.tick < target:
                await self._tick()
        finally:
            self.replaying = False
            self.journal.drain()
            self._dirty_orders.clear()
            self._new_fills.clear()
            self._events.clear()
        self._commands_since_snapshot = count
        return count

    def _load_snapshot(self) -> int:
        """Restore the newest snapshot that loads and matches its digest (else genesis); return
        the seq of the last command it contains (0 for genesis)."""
        for snap in self.store.snapshots():
            try:
                blobs = pickle.loads(snap.state)
                if not isinstance(blobs, list) or not blobs or len(blobs) > len(self._parts):
                    raise SnapshotError(
                        "the snapshot has more parts than this service",
                        field="snapshot",
                        value=snap.id,
                        allowed=f"at most {len(self._parts)} parts",
                    )
                for index, (image, genesis) in enumerate(self._parts):
                    image.loads(blobs[index] if index < len(blobs) else genesis)
            except (SnapshotError, pickle.UnpicklingError, EOFError, TypeError) as exc:
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
        for image, genesis in self._parts:
            image.loads(genesis)
        self._snapshot_tick = 0
        return 0

    def snapshot(self) -> int:
        """Write a snapshot of the whole state now (the caller holds the lock or is the only user);
        returns its id. One durable transaction; a crash during it leaves the older ones."""
        self._flush()
        blob = pickle.dumps(
            [image.dumps() for image, _ in self._parts], protocol=pickle.HIGHEST_PROTOCOL
        )
        snapshot_id = self.store.write_snapshot(
            tick=self.sim.tick,
            journal_seq=len(self.journal._lines),
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
            ):  # the log is complete without it: a failed snapshot costs restart time only
                log.exception("snapshot failed; the command log still holds everything")
                self._commands_since_snapshot = 0
                self._snapshot_tick = self.sim.tick

    async def recover(self, target_tick: int) -> None:
        """Throw away the in-memory state and rebuild the durable one, then tick to ``target_tick``
        (ticks are deterministic and were never acknowledged). The caller holds the lock."""
        self.needs_recovery = False
        await self._restore()
        while self.sim.tick < target_tick:
            await self._tick()

    def close(self) -> None:
        """Make the tick count durable (a clean shutdown loses no simulated time) and close."""
        self._flush()
        self.store.close()

    # -- commands ----------------------------------------------------------------------------------

    async def command(self, kind: str, body: Any) -> dict[str, Any]:
        """Apply one command, make it durable, publish it, return its result (the acknowledgement)."""
        if kind not in COMMANDS:
            raise PaperError(400, "kind", kind, " | ".join(COMMANDS))
        if not isinstance(body, dict):
            raise PaperError(400, "body", type(body).__name__, "a JSON object")
        async with self.lock:
            t_ns = self.sim.t_ns
            tick = self.sim.tick
            try:
                result = await self._apply(kind, body)
                self._flush(event=(kind, tick, t_ns, body, result))
            except PaperError:
                raise  # refused during validation, before anything changed (each command's contract)
            except BaseException as exc:
                # Partway through (a venue raised after a child fill, the disk refused the commit,
                # the task was cancelled): nothing was acknowledged, so return to the durable
                # state plus the unacknowledged ticks before this command, as if it never ran.
                log.exception("%s command failed partway; rolling back", kind)
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

    def record(
        self, kind: str, tick: int, t_ns: int, body: dict[str, Any], result: dict[str, Any]
    ) -> None:
        """Make a command that was applied outside :meth:`command` durable (the caller holds the
        lock); the venue server's engine calls come through here. If it raises, the caller
        must set ``needs_recovery`` and call :meth:`recover` before releasing the lock."""
        self._flush(event=(kind, tick, t_ns, body, result))
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
                if self._new_fills or self._dirty_orders:
                    self._flush()
            except BaseException:
                log.exception("tick failed partway; rolling back to tick %d", start)
                await self.recover(start)
                raise
            self._maybe_snapshot()

    def flush_ticks(self) -> None:
        """Make the tick count (and the journal so far) durable without a command."""
        self._flush()
        self._maybe_snapshot()

    def _flush(self, event: tuple[str, int, int, dict, dict] | None = None) -> None:
        if self.replaying:
            return
        # If the commit raises, the caller recovers the whole state (journal numbering included).
        self.store.commit(
            tick=self.sim.tick,
            event=event,
            orders=list(self._dirty_orders.values()),
            fills=self._new_fills,
            journal=self.journal.drain(),
        )
        self._dirty_orders.clear()
        self._new_fills.clear()
        events, self._events = self._events, []
        for message in events:
            self._publish(message)

    async def _apply(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        if kind == "order":
            return await self._place(body)
        if kind == "cancel":
            return self._cancel(body)
        if kind == "subaccount":
            return self._open_subaccount(body)
        if kind == "transfer":
            return self._transfer(body)
        if kind == "venue":
            if self.venue_replay is None:
                raise PaperError(
                    400, "kind", kind, "a command other than 'venue' (no venue server attached)"
                )
            return self.venue_replay(body)
        return await self._step(body)

    # -- market ticks ------------------------------------------------------------------------------

    async def _tick(self) -> TickReport:
        report = await self.sim.step()
        for fill in report.arbitrage:
            self._events.append(
                {
                    "type": "arbitrage",
                    "venue": fill.venue,
                    "side": fill.side,
                    "qty": _dec(fill.filled_qty),
                    "quote_amount": _dec(fill.quote_amount),
                    "t_ns": self.sim.t_ns,
                }
            )
        for result in report.liquidations:
            self._record_liquidation(result)
        for client_id in list(self.working):
            await self._work(client_id)
        if self.sim.tick % self.params.pnl_every_ticks == 0:
            self._sample_pnl()
        self._events.append(
            {
                "type": "tick",
                "tick": self.sim.tick,
                "t_ns": self.sim.t_ns,
                "refs": {s: price_text(p) for s, p in sorted(self.sim.refs.items())},
            }
        )
        return report

    def _record_liquidation(self, result: Any) -> None:
        account = result.subaccount.split("/", 1)[0]
        for step in result.steps:
            size = Decimal(step.closed_units).scaleb(-8)
            fill = self._new_fill(
                client_id=f"liquidation-{self.sim.tick}",
                account=account,
                sub_id=result.subaccount,
                venue="liquidation",
                instrument="perp",
                symbol=step.symbol,
                side="buy" if size > 0 else "sell",
                qty=abs(size),
                quote_amount=abs(size) * Decimal(step.price_units).scaleb(-8),
                fee=Decimal(step.fee_units).scaleb(-8),
                role="liquidation",
            )
            self._events.append({"type": "fill", "fill": fill})
        for order_id in result.cancelled_orders:
            if order_id in self.working:
                self._finish_working(order_id, "cancelled", "liquidation cancelled the order")
        self._events.append(
            {
                "type": "liquidation",
                "subaccount": result.subaccount,
                "steps": len(result.steps),
                "bad_debt": price_text(result.bad_debt_units),
            }
        )
        self._account_event(result.subaccount)

    async def _step(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - {"ticks"})
        if unknown:
            raise PaperError(400, unknown[0], body[unknown[0]], "only 'ticks'")
        ticks = body.get("ticks", 1)
        if (
            isinstance(ticks, bool)
            or not isinstance(ticks, int)
            or not 1 <= ticks <= MAX_STEP_TICKS
        ):
            raise PaperError(400, "ticks", ticks, f"an integer in [1, {MAX_STEP_TICKS}]")
        for _ in range(ticks):
            await self._tick()
        return {"tick": self.sim.tick, "t_ns": self.sim.t_ns}

    # -- orders ------------------------------------------------------------------------------------

    def _sub_id(self, body: dict[str, Any]) -> tuple[str, str]:
        account = body.get("account")
        if not isinstance(account, str) or account not in self.ledger.accounts:
            raise PaperError(
                404 if isinstance(account, str) else 400,
                "account",
                account,
                f"one of {sorted(self.ledger.accounts)}",
            )
        name = body.get("subaccount", MAIN_SUBACCOUNT)
        subs = sorted(self.ledger.accounts[account].subaccounts)
        if not isinstance(name, str) or name not in subs:
            raise PaperError(
                404 if isinstance(name, str) else 400, "subaccount", name, f"one of {subs}"
            )
        return account, f"{account}/{name}"

    def _parse_order(self, body: dict[str, Any]) -> tuple[MultiLegOrder, str]:
        """Validate an order body into a MultiLegOrder (read-only). Returns (order, kind)."""
        client_id = body.get("client_id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise PaperError(
                400,
                "client_id",
                client_id,
                f"1-{MAX_CLIENT_ID} characters of [A-Za-z0-9_.-], starting alphanumeric",
            )
        multi = "legs" in body
        allowed_keys = _MULTI_KEYS if multi else _ROUTED_KEYS
        unknown = sorted(set(body) - allowed_keys)
        if unknown:
            raise PaperError(400, unknown[0], body[unknown[0]], f"keys {sorted(allowed_keys)}")
        account, _ = self._sub_id(body)
        head = {"client_id": client_id, "account": account}
        if multi:
            for key in ("on_hedge_failure", "time_limit_secs", "max_rounds", "slippage_bps"):
                if key in body:
                    head[key] = body[key]
            legs = body["legs"]
        else:
            symbol = body.get("symbol")
            leg = {
                "id": "leg",
                "symbol": symbol,
                "side": body.get("side"),
                "instrument": "perp" if isinstance(symbol, str) and ":" in symbol else "spot",
            }
            for key, target in (
                ("qty", "qty"),
                ("quote_qty", "quote_qty"),
                ("limit", "limit"),
                ("venues", "venues"),
            ):
                if key in body:
                    leg[target] = body[key]
            if "slippage_bps" in body:
                head["slippage_bps"] = body["slippage_bps"]
            legs = [leg]
        for index, leg in enumerate(legs if isinstance(legs, list) else []):
            if isinstance(leg, dict):
                for key in ("qty", "quote_qty", "limit", "ratio"):
                    if isinstance(
                        leg.get(key), float
                    ):  # JSON numbers arrive as floats: refuse, like TOML
                        raise PaperError(
                            400,
                            f"legs[{index}].{key}" if multi else key,
                            leg[key],
                            "a decimal string (a JSON number has already lost precision)",
                        )
        try:
            order = order_from_dict({"order": head, "legs": legs}, "request")
        except ConfigError as exc:
            key = exc.key.removeprefix("order.")
            if not multi and key.startswith("legs[0]."):
                key = key.removeprefix("legs[0].")
                key = {"limit": "limit", "id": "client_id"}.get(key, key)
            raise PaperError(400, key, exc.value, exc.allowed) from None
        for index, leg in enumerate(order.legs):
            where = f"legs[{index}]" if multi else ""
            try:
                adapters = self.market.adapters_for(leg.symbol, list(leg.venues) or None)
            except RouteError as exc:
                field = exc.details.get("field", "symbol")
                raise PaperError(
                    400,
                    f"{where}.{field}" if where else field,
                    exc.details.get("value"),
                    str(exc.details.get("allowed")),
                ) from None
            kinds = {self.market.instruments()[a.name] for a in adapters}
            if kinds != {leg.instrument}:
                raise PaperError(
                    400,
                    f"{where}.instrument" if where else "symbol",
                    leg.instrument,
                    f"the instrument of the venues trading {leg.symbol}: {sorted(kinds)}",
                )
        tif = body.get("tif", "ioc")
        if tif not in ("ioc", "gtc"):
            raise PaperError(400, "tif", tif, "ioc | gtc")
        if tif == "gtc" and (
            multi or order.legs[0].qty is None or order.legs[0].limit_price is None
        ):
            raise PaperError(400, "tif", tif, "ioc, or gtc on a routed order with qty and limit")
        return order, tif

    async def _place(self, body: dict[str, Any]) -> dict[str, Any]:
        client_id = body.get("client_id")
        known = self.order_doc(client_id) if isinstance(client_id, str) else None
        if known is not None:
            if _canonical(known["request"]) != _canonical(body):
                raise PaperError(
                    409, "client_id", client_id, "a client id not used for another order"
                )
            return known  # idempotent retry: the same acknowledgement, nothing traded
        order, tif = self._parse_order(body)
        account, sub_id = self._sub_id(body)
        self._check_client_id(order.client_id, tif)
        if tif == "gtc" and len(self.working) >= MAX_WORKING_ORDERS:
            raise PaperError(
                409,
                "tif",
                tif,
                f"at most {MAX_WORKING_ORDERS} working gtc orders; cancel some first",
            )
        self.order_count += 1
        t_ns = self.sim.t_ns
        doc: dict[str, Any] = {
            "client_id": order.client_id,
            "account": account,
            "subaccount": sub_id,
            "kind": "multi_leg" if "legs" in body else "routed",
            "tif": tif,
            "seq": self.order_count,
            "created_t_ns": t_ns,
            "updated_t_ns": t_ns,
            "request": body,
            "status": "new",
            "reason": "",
            "legs": [],
            "fill_ids": [],
            "attempts": 1,
            "remaining_qty": None,
        }
        self.orders[order.client_id] = doc
        try:
            report = await self._executor(self.gates[sub_id]).execute(order)
        except CrossrouteError as exc:  # refused before anything traded (the executor's contract)
            del self.orders[order.client_id]
            self.order_count -= 1
            raise PaperError(
                400,
                str(exc.details.get("field", "order")),
                exc.details.get("value"),
                str(exc.details.get("allowed", "")),
                message=str(exc),
            ) from None
        self._absorb(doc, report)
        doc["status"] = report.status
        doc["reason"] = report.reason
        doc["margin_before"] = {k: _dec(v) for k, v in report.margin_before.items()}
        doc["margin_after"] = {k: _dec(v) for k, v in report.margin_after.items()}
        doc["residual_exposure"] = {k: _dec(v) for k, v in sorted(report.residual_exposure.items())}
        if tif == "gtc":
            leg = order.legs[0]
            remaining = leg.qty - report.legs[0].filled_qty if report.legs else leg.qty
            margin_refused = report.margin_check is not None and not report.margin_check.accepted
            if remaining > 0 and not margin_refused:
                self.working[order.client_id] = _Working(
                    order.client_id, sub_id, leg, remaining, order.slippage_bps
                )
                doc["status"] = "open" if remaining == leg.qty else "partially_filled"
            doc["remaining_qty"] = _dec(remaining)
        self._order_changed(doc)
        if order.client_id not in self.working:
            del self.orders[
                order.client_id
            ]  # finished: the store keeps it (committed with this command)
        self._account_event(sub_id)
        return doc

    def order_doc(self, client_id: str) -> dict[str, Any] | None:
        """The order doc of ``client_id`` as of now, or None: the open order in memory, else the
        finished one from the store. During a replay the store already holds later orders, so
        only those placed so far count (``seq`` <= ``order_count``; finished docs are final).
        O(1) plus one indexed SQLite read."""
        doc = self.orders.get(client_id)
        if doc is not None:
            return doc
        return self.store.order(client_id, max_seq=self.order_count)

    def _check_client_id(self, client_id: str, tif: str) -> None:
        """Refuse a new client id that collides with the executor ids of a gtc order's retries
        (``<id>.<n>``): both ways, whether or not the retry has run yet. Read-only."""
        head, dot, tail = client_id.rpartition(".")
        if dot and tail.isdigit():
            parent = self.order_doc(head)
            if parent is not None and parent["tif"] == "gtc":
                raise PaperError(
                    409,
                    "client_id",
                    client_id,
                    f"a client id other than '<gtc order id>.<n>' (retries of gtc order {head!r} use it)",
                )
        if tif == "gtc":
            taken = [
                c
                for c in self.orders
                if c.startswith(client_id + ".") and c[len(client_id) + 1 :].isdigit()
            ]
            taken += self.store.retry_ids(client_id, max_seq=self.order_count)
            if taken:
                raise PaperError(
                    409,
                    "client_id",
                    client_id,
                    f"a gtc client id whose retry ids '<id>.<n>' are unused (taken: {sorted(taken)[0]!r})",
                )

    def _absorb(self, doc: dict[str, Any], report: ExecutionReport) -> None:
        """Add a report's legs and fills to an order doc."""
        route = []
        for leg in report.legs:
            legs = [x for x in doc["legs"] if x["id"] == leg.leg_id and x["role"] == leg.role]
            entry = legs[0] if legs else None
            if entry is None:
                entry = {
                    "id": leg.leg_id,
                    "role": leg.role,
                    "instrument": leg.instrument,
                    "symbol": leg.symbol,
                    "side": leg.side,
                    "target_qty": _dec(leg.target_qty),
                    "target_quote": _dec(leg.target_quote),
                    "filled_qty": "0",
                    "quote_amount": "0",
                    "fee": "0",
                    "avg_price": None,
                    "route": [],
                }
                doc["legs"].append(entry)
            filled = Decimal(entry["filled_qty"]) + leg.filled_qty
            quote = Decimal(entry["quote_amount"]) + leg.quote_amount
            entry["filled_qty"] = _dec(filled)
            entry["quote_amount"] = _dec(quote)
            entry["fee"] = _dec(Decimal(entry["fee"]) + leg.fee)
            entry["avg_price"] = (
                _dec((quote / filled).quantize(Decimal("1e-8"))) if filled else None
            )
            entry["status"] = leg.status
            for child in leg.children:
                if child.filled_qty <= 0:
                    continue
                fill = self._new_fill(
                    client_id=doc["client_id"],
                    account=doc["account"],
                    sub_id=doc["subaccount"],
                    venue=child.order.venue,
                    instrument=leg.instrument,
                    symbol=leg.symbol,
                    side=child.order.side,
                    qty=child.filled_qty,
                    quote_amount=child.quote_amount,
                    fee=child.fee,
                    role=leg.role,
                    child_id=child.order.client_order_id,
                )
                doc["fill_ids"].append(fill["fill_id"])
                entry["route"].append(
                    {
                        "venue": fill["venue"],
                        "qty": fill["qty"],
                        "quote_amount": fill["quote_amount"],
                    }
                )
                route.append(
                    {
                        "venue": fill["venue"],
                        "qty": fill["qty"],
                        "quote_amount": fill["quote_amount"],
                    }
                )
                self._events.append({"type": "fill", "fill": fill})
        if route:
            self.routes.appendleft(
                {
                    "client_id": doc["client_id"],
                    "account": doc["account"],
                    "t_ns": self.sim.t_ns,
                    "legs": [
                        {
                            "id": e["id"],
                            "symbol": e["symbol"],
                            "side": e["side"],
                            "filled_qty": e["filled_qty"],
                            "avg_price": e["avg_price"],
                            "route": e["route"],
                        }
                        for e in doc["legs"]
                    ],
                }
            )

    def _new_fill(
        self,
        *,
        client_id: str,
        account: str,
        sub_id: str,
        venue: str,
        instrument: str,
        symbol: str,
        side: str,
        qty: Decimal,
        quote_amount: Decimal,
        fee: Decimal,
        role: str,
        child_id: str = "",
    ) -> dict[str, Any]:
        fill = {
            "fill_id": self.next_fill_id,
            "client_id": client_id,
            "child_id": child_id,
            "account": account,
            "subaccount": sub_id,
            "venue": venue,
            "instrument": instrument,
            "symbol": symbol,
            "side": side,
            "qty": _dec(qty),
            "quote_amount": _dec(quote_amount),
            "fee": _dec(fee),
            "avg_price": _dec((quote_amount / qty).quantize(Decimal("1e-8"))) if qty else None,
            "role": role,
            "t_ns": self.sim.t_ns,
            "tick": self.sim.tick,
        }
        self.next_fill_id += 1
        self._new_fills.append(fill)
        return fill

    def _order_changed(self, doc: dict[str, Any]) -> None:
        doc["updated_t_ns"] = self.sim.t_ns
        self._dirty_orders[doc["client_id"]] = doc
        self._events.append(
            {
                "type": "order",
                "order": {
                    k: doc[k]
                    for k in ("client_id", "account", "status", "remaining_qty", "fill_ids")
                },
            }
        )

    def _could_fill(self, work: _Working) -> bool:
        """True when a venue of the order quotes its first unit within the limit (read-only)."""
        leg = work.leg
        for adapter in self.market.adapters_for(leg.symbol, list(leg.venues) or None):
            try:
                price = adapter.depth_curve(leg.side).marginal_price(0.0)
            except CrossrouteError:
                continue
            limit = float(leg.limit_price)  # a screen only; the executor decides on exact quotes
            if (leg.side == "buy" and price <= limit) or (leg.side == "sell" and price >= limit):
                return True
        return False

    async def _work(self, client_id: str) -> None:
        work = self.working[client_id]
        if not self._could_fill(work):
            return
        work.attempts += 1
        doc = self.orders[client_id]
        leg = work.leg
        retry = MultiLegOrder(
            client_id=f"{client_id}.{work.attempts}",
            account=doc["account"],
            slippage_bps=work.slippage_bps,
            legs=(
                OrderLeg(
                    leg.leg_id,
                    leg.instrument,
                    leg.symbol,
                    leg.side,
                    qty=work.remaining,
                    limit_price=leg.limit_price,
                    venues=leg.venues,
                ),
            ),
        )
        report = await self._executor(self.gates[work.sub_id]).execute(retry)
        doc["attempts"] = work.attempts
        self._absorb(doc, report)
        filled = report.legs[0].filled_qty if report.legs else ZERO
        work.remaining -= filled
        doc["remaining_qty"] = _dec(work.remaining)
        if work.remaining <= 0:
            self._finish_working(client_id, "filled", "")
        elif filled > 0:
            doc["status"] = "partially_filled"
            self._order_changed(doc)
        if filled > 0:
            doc["margin_after"] = {k: _dec(v) for k, v in report.margin_after.items()}
            self._account_event(work.sub_id)

    def _finish_working(self, client_id: str, status: str, reason: str) -> None:
        self.working.pop(client_id, None)
        doc = self.orders.pop(client_id)  # finished: from now on the store's row is the order
        doc["status"] = status
        doc["reason"] = reason
        self._order_changed(doc)

    def _cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - {"client_id"})
        if unknown:
            raise PaperError(400, unknown[0], body[unknown[0]], "only 'client_id'")
        client_id = body.get("client_id")
        doc = self.order_doc(client_id) if isinstance(client_id, str) else None
        if doc is None:
            raise PaperError(404, "client_id", client_id, "the client id of an order")
        if client_id not in self.working:
            raise PaperError(
                409, "client_id", client_id, f"an open gtc order (this one is {doc['status']})"
            )
        self._finish_working(client_id, "cancelled", "cancelled by the client")
        return doc

    # -- accounts ----------------------------------------------------------------------------------

    def _open_subaccount(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - {"account", "name"})
        if unknown:
            raise PaperError(400, unknown[0], body[unknown[0]], "only 'account' and 'name'")
        account = body.get("account")
        if not isinstance(account, str) or account not in self.ledger.accounts:
            raise PaperError(
                404 if isinstance(account, str) else 400,
                "account",
                account,
                f"one of {sorted(self.ledger.accounts)}",
            )
        name = body.get("name")
        existing = sorted(self.ledger.accounts[account].subaccounts)
        if not isinstance(name, str) or not _NAME.match(name) or name in existing:
            raise PaperError(
                400, "name", name, f"1-32 characters of [A-Za-z0-9_-], not one of {existing}"
            )
        sub_id = self.ledger.open_subaccount(account, name)
        self.gates[sub_id] = LedgerGate(self.ledger, sub_id, self.perp_markets)
        self._account_event(sub_id)
        return {"subaccount": sub_id}

    def _transfer(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - {"account", "from", "to", "asset", "amount"})
        if unknown:
            raise PaperError(
                400, unknown[0], body[unknown[0]], "keys account, from, to, asset, amount"
            )
        account, src = self._sub_id(
            {"account": body.get("account"), "subaccount": body.get("from")}
        )
        _, dst = self._sub_id({"account": account, "subaccount": body.get("to")})
        if src == dst:
            raise PaperError(400, "to", body.get("to"), "a subaccount other than 'from'")
        asset = body.get("asset")
        if not isinstance(asset, str) or asset not in self.ledger.assets:
            raise PaperError(400, "asset", asset, f"one of {sorted(self.ledger.assets)}")
        amount = body.get("amount")
        if not isinstance(amount, str):
            raise PaperError(400, "amount", amount, "a decimal string > 0")
        try:
            parsed = Decimal(amount)
        except ArithmeticError:
            parsed = Decimal(-1)
        if not parsed.is_finite() or parsed <= 0:
            raise PaperError(400, "amount", amount, "a decimal string > 0")
        try:
            self.ledger.transfer_collateral(src, dst, asset, amount)
        except MarginError as exc:
            status = 400 if exc.details.get("field") else 422
            raise PaperError(
                status,
                exc.details.get("field") or "amount",
                amount,
                exc.details.get("allowed") or str(exc),
                message=str(exc),
            ) from None
        self._account_event(src)
        self._account_event(dst)
        return {"account": account, "from": src, "to": dst, "asset": asset, "amount": amount}

    def accounts(self) -> list[str]:
        return sorted(self.ledger.accounts)

    def subaccount_view(self, sub_id: str) -> dict[str, Any]:
        """Balances, positions (with liquidation prices), margin and value of one subaccount."""
        from router.margin.report import margin_report

        report = margin_report(self.ledger, sub_id)
        sub = self.ledger.subs[sub_id]
        balances = {
            asset: _dec(self.ledger.balance(sub_id, asset)) for asset in sorted(sub.balances)
        }
        return {
            "id": sub_id,
            "name": sub_id.split("/", 1)[1],
            "balances": balances,
            "positions": report["positions"],
            "margin": {
                k: report[k]
                for k in (
                    "equity",
                    "maintenance_equity",
                    "initial_margin",
                    "maintenance_margin",
                    "headroom",
                )
            },
            "capital_efficiency": report["capital_efficiency"],
            "value": price_text(self._sub_value_units(sub_id)),
            "liquidatable": sub_id in self.ledger.liquidatable(),
        }

    def account_view(self, account: str) -> dict[str, Any]:
        if account not in self.ledger.accounts:
            raise PaperError(404, "account", account, f"one of {self.accounts()}")
        subs = [
            self.subaccount_view(f"{account}/{name}")
            for name in sorted(self.ledger.accounts[account].subaccounts)
        ]
        value = self.account_value(account)
        return {
            "account": account,
            "subaccounts": subs,
            "value": price_text(value),
            "pnl": price_text(value - self.start_value.get(account, value)),
            "open_orders": sorted(
                cid for cid, w in self.working.items() if w.sub_id.split("/", 1)[0] == account
            ),
        }

    def _sub_value_units(self, sub_id: str) -> int:
        """Mark-to-market value in quote 1e-8 units: balances at mark (no haircut) plus unrealised
        PnL and unsettled funding; rounded down (against the account), like the ledger's equity."""
        sub = self.ledger.subs[sub_id]
        quote = self.ledger.quote_asset
        total = 0
        for asset, units in sub.balances.items():
            if asset == quote:
                total += units
            else:
                total += (units * self.ledger.marks[asset].price_units) // PRICE_SCALE
        for figures in sub.pos_vals.values():
            total += (
                figures[1] + figures[2]
            )  # the ledger's cached upnl and funding (already rounded down)
        return total

    def account_value(self, account: str) -> int:
        return sum(
            self._sub_value_units(f"{account}/{name}")
            for name in self.ledger.accounts[account].subaccounts
        )

    def _sample_pnl(self) -> None:
        for account in self.accounts():
            value = self.account_value(account)
            base = self.start_value.get(account, value) if hasattr(self, "start_value") else value
            self.pnl.setdefault(account, deque(maxlen=2000)).append(
                (self.sim.t_ns, price_text(value - base))
            )

    def _account_event(self, sub_id: str) -> None:
        self._events.append(
            {
                "type": "account",
                "subaccount": sub_id,
                "margin": self.subaccount_view(sub_id)["margin"],
            }
        )

    # -- reads -------------------------------------------------------------------------------------

    def market_view(self, points: int = 24) -> dict[str, Any]:
        """Each venue's depth and the unified depth per symbol, as cumulative base at all-in prices
        (fees inside) sampled from the mid to 0.5% away. Display figures: 8-decimal strings of the
        float depth model, not amounts anyone is charged."""
        venues = []
        unified: dict[str, dict[str, list]] = {}
        for name, adapter in self.market.adapters.items():
            symbol = adapter.symbol
            mid = adapter.mid_price()
            center = float(self.sim.center_e8(symbol)) / PRICE_SCALE
            view = {
                "venue": name,
                "symbol": symbol,
                "instrument": self.market.instruments()[name],
                "kind": "orderbook" if hasattr(adapter, "book") else "pool",
                "mid": None if mid is None else _dec(mid.quantize(Decimal("1e-8"))),
                "bids": [],
                "asks": [],
            }
            for side, key, sign in (("sell", "bids", -1), ("buy", "asks", 1)):
                try:
                    curve = adapter.depth_curve(side)
                except CrossrouteError:
                    continue
                for k in range(1, points + 1):
                    price = center * (1 + sign * 0.005 * k / points)
                    qty = curve.qty_at_price(price)
                    view[key].append([f"{price:.2f}", f"{qty:.6f}"])
                    slot = unified.setdefault(
                        symbol,
                        {
                            "bids": [
                                [f"{center * (1 - 0.005 * j / points):.2f}", 0.0]
                                for j in range(1, points + 1)
                            ],
                            "asks": [
                                [f"{center * (1 + 0.005 * j / points):.2f}", 0.0]
                                for j in range(1, points + 1)
                            ],
                        },
                    )
                    slot[key][k - 1][1] += qty
            venues.append(view)
        return {
            "tick": self.sim.tick,
            "t_ns": self.sim.t_ns,
            "refs": {s: price_text(p) for s, p in sorted(self.sim.refs.items())},
            "venues": venues,
            "unified": [
                {
                    "symbol": s,
                    "bids": [[p, f"{q:.6f}"] for p, q in d["bids"]],
                    "asks": [[p, f"{q:.6f}"] for p, q in d["asks"]],
                }
                for s, d in unified.items()
            ],
        }

    def quote(self, params: dict[str, str]) -> dict[str, Any]:
        """A routed quote (read-only): the splitter's plan with exact re-quotes."""
        from router.plan import plan_route

        unknown = sorted(set(params) - {"symbol", "side", "qty", "quote_qty", "limit", "venues"})
        if unknown:
            raise PaperError(
                400, unknown[0], params[unknown[0]], "symbol, side, qty | quote_qty, limit, venues"
            )
        symbol = params.get("symbol")
        side = params.get("side")
        if side not in ("buy", "sell"):
            raise PaperError(400, "side", side, "buy | sell")
        venues = params["venues"].split(",") if params.get("venues") else None
        try:
            adapters = self.market.adapters_for(symbol or "", venues)
        except RouteError as exc:
            raise PaperError(
                400,
                exc.details.get("field", "symbol"),
                exc.details.get("value"),
                str(exc.details.get("allowed")),
            ) from None
        numbers = {}
        for key in ("qty", "quote_qty", "limit"):
            if params.get(key) is not None:
                try:
                    numbers[key] = Decimal(params[key])
                except ArithmeticError:
                    numbers[key] = Decimal(-1)
                if not numbers[key].is_finite() or numbers[key] <= 0:
                    raise PaperError(400, key, params[key], "a decimal > 0")
        if ("qty" in numbers) == ("quote_qty" in numbers):
            raise PaperError(400, "qty", params.get("qty"), "exactly one of qty and quote_qty")
        try:
            plan = plan_route(
                adapters,
                symbol,
                side,
                numbers.get("qty"),
                quote_qty=numbers.get("quote_qty"),
                limit_price=numbers.get("limit"),
            )
        except RouteError as exc:
            raise PaperError(
                400,
                str(exc.details.get("field", "qty")),
                exc.details.get("value"),
                str(exc.details.get("allowed", exc)),
                message=str(exc),
            ) from None
        return plan.to_json_dict()

    def status(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "tick": self.sim.tick,
            "t_ns": self.sim.t_ns,
            "refs": {s: price_text(p) for s, p in sorted(self.sim.refs.items())},
            "orders": self.order_count,
            "working_orders": len(self.working),
            "fills": self.next_fill_id - 1,
            "journal_seq": len(self.journal._lines),
            "accounts": {
                a: {
                    "value": price_text(self.account_value(a)),
                    "pnl": price_text(self.account_value(a) - self.start_value[a]),
                }
                for a in self.accounts()
            },
            "state_digest": self.state_digest(),
        }

    def state_digest(self) -> str:
        """SHA-256 of market, ledger and open-order state: equal digests mean equal states (finished
        orders are in the store, counted by ``order_count``)."""
        ledger = repr(self.ledger.snapshot())
        orders = json.dumps(
            [self.orders[c] for c in sorted(self.orders)], sort_keys=True, default=str
        )
        working = repr(sorted((c, str(w.remaining), w.attempts) for c, w in self.working.items()))
        text = "|".join(
            (
                self.sim.state_digest(),
                ledger,
                orders,
                working,
                str(self.next_fill_id),
                str(self.order_count),
                *(hook() for hook in self.digest_hooks),
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
            except asyncio.QueueFull:
                self.listeners.discard(
                    queue
                )  # a client that does not read is dropped, not waited for

    def _check(self) -> None:
        """Assert the invariants: the ledger's double entry and caches, the books uncrossed,
        working orders open with a positive residual, fill ids dense."""
        self.ledger._check()
        self.sim._check()
        for client_id, work in self.working.items():
            assert work.remaining > 0, (client_id, work.remaining)
            assert self.orders[client_id]["status"] in ("open", "partially_filled"), client_id
        assert self.orders.keys() == self.working.keys(), "only open orders stay in memory"
        assert self.next_fill_id >= 1
