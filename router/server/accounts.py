"""Balances per account, exact, with the part reserved for open orders.

Every amount is a Python ``int`` in the asset's base units (``decimals`` digits: 1 USDC = 10**6
units); ``Decimal`` appears only at the edges (the account specs and the JSON answers). Each
account has, per asset, a *free* and a *locked* amount; a resting order locks what it may spend
and unlocks what it did not. Every mutation checks first and then changes, so a refused call
leaves the ledger exactly as it was.

Perpetual positions are kept here too: signed size in lots and the entry cost in quanta (price
ticks x lots) of the open size; realised PnL and fees move the margin asset's free balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal

from router.server.errors import insufficient_balance
from venues.errors import InvalidArgument, require_int

# scaleb under the default 28-digit context rounds: 10**30 + 1 wei would print as 10**12 ETH.
# 120 digits hold any uint256 amount at 36 decimals.
_EXACT = Context(prec=120)


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """One account the server serves: starting ``balances`` in whole units, and optional API keys."""

    name: str
    balances: Mapping[str, Decimal] = field(default_factory=dict)
    api_key: str | None = None
    api_secret: str | None = None


@dataclass(slots=True)
class Position:
    """A perpetual position: ``size_lots`` > 0 long, < 0 short; ``entry_quanta`` the cost of the open size."""

    size_lots: int = 0
    entry_quanta: int = 0
    realised_pnl_quanta: int = 0


def units_of(asset: str, amount: Decimal, decimals: int, field_name: str = "amount") -> int:
    """``amount`` whole units as an exact integer of base units; raises when it has more digits."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidArgument(field_name, amount, f"a finite Decimal amount of {asset}")
    scaled = amount.scaleb(decimals, _EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
        raise InvalidArgument(field_name, amount, f"at most {decimals} decimals of {asset}")
    return int(scaled)


def decimal_of(units: int, decimals: int) -> Decimal:
    """``units`` base units as whole units, exactly: every digit kept, whatever the size."""
    return Decimal(units).scaleb(-decimals, _EXACT)


class Ledger:
    """Free and locked balances for every (account, asset); perpetual positions per (account, symbol).

    O(1) per operation. Invariant (``_check``): every free and locked amount is a non-negative int.
    """

    def __init__(self, asset_decimals: Mapping[str, int], accounts: Iterable[AccountSpec]) -> None:
        decimals: dict[str, int] = {}
        for asset, digits in asset_decimals.items():
            if not isinstance(asset, str) or not asset.isalnum():
                raise InvalidArgument("asset", asset, "an alphanumeric asset name")
            decimals[asset] = require_int(f"decimals[{asset}]", digits, minimum=0, maximum=36)
        self._decimals = decimals
        self._free: dict[tuple[str, str], int] = {}
        self._locked: dict[tuple[str, str], int] = {}
        self._accounts: list[str] = []
        self._perp_wallets: set[tuple[str, str]] = set()
        self.positions: dict[tuple[str, str], Position] = {}
        for spec in accounts:
            if not isinstance(spec, AccountSpec) or not isinstance(spec.name, str) or not spec.name:
                raise InvalidArgument("accounts", spec, "AccountSpec with a non-empty name")
            if spec.name in self._accounts:
                raise InvalidArgument("accounts.name", spec.name, "unique account names")
            for asset, amount in spec.balances.items():
                if asset not in decimals:
                    raise InvalidArgument(
                        f"{spec.name}.balances", asset, f"one of {sorted(decimals)}"
                    )
                if units_of(asset, amount, decimals[asset], f"{spec.name}.balances.{asset}") < 0:
                    raise InvalidArgument(f"{spec.name}.balances.{asset}", amount, "an amount >= 0")
            self._accounts.append(spec.name)
            for asset, digits in decimals.items():
                self._free[(spec.name, asset)] = units_of(
                    asset, spec.balances.get(asset, Decimal(0)), digits
                )
                self._locked[(spec.name, asset)] = 0

    # ---- reads ---------------------------------------------------------------------------------
    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self._decimals)

    def has_account(self, account: str) -> bool:
        return account in self._accounts

    def decimals(self, asset: str) -> int:
        if asset not in self._decimals:
            raise InvalidArgument("asset", asset, f"one of {sorted(self._decimals)}")
        return self._decimals[asset]

    def free(self, account: str, asset: str) -> int:
        """Free base units of ``asset``."""
        return self._free[self._key(account, asset)]

    def locked(self, account: str, asset: str) -> int:
        """Locked base units of ``asset`` (reserved by open orders)."""
        return self._locked[self._key(account, asset)]

    def snapshot(self) -> tuple[dict, dict, dict]:
        """A deep copy of all state, for tests and audits."""
        positions = {
            key: (p.size_lots, p.entry_quanta, p.realised_pnl_quanta)
            for key, p in self.positions.items()
        }
        return dict(self._free), dict(self._locked), positions

    def position(self, account: str, symbol: str) -> Position:
        """The perpetual position (a zero one when there is none); read-only use."""
        return self.positions.get((account, symbol), Position())

    # ---- mutations (check, then change) --------------------------------------------------------
    def lock(self, account: str, asset: str, units: int) -> None:
        """Move ``units`` from free to locked; -2010 insufficient balance when free is short."""
        key = self._key(account, asset)
        require_int("units", units, minimum=0)
        if self._free[key] < units:
            raise insufficient_balance(
                asset,
                decimal_of(units, self._decimals[asset]),
                decimal_of(self._free[key], self._decimals[asset]),
            )
        self._free[key] -= units
        self._locked[key] += units

    def unlock(self, account: str, asset: str, units: int) -> None:
        """Move ``units`` from locked back to free."""
        key = self._key(account, asset)
        require_int("units", units, minimum=0, maximum=self._locked[key])
        self._locked[key] -= units
        self._free[key] += units

    def require_free(self, account: str, asset: str, units: int) -> None:
        """Raise -2010 insufficient balance unless ``units`` are free; changes nothing."""
        key = self._key(account, asset)
        if self._free[key] < units:
            raise insufficient_balance(
                asset,
                decimal_of(units, self._decimals[asset]),
                decimal_of(self._free[key], self._decimals[asset]),
            )

    def apply(self, account: str, deltas: Mapping[tuple[str, str], int]) -> None:
        """Apply ``{(asset, "free"|"locked"): delta_units}`` atomically: all or nothing.

        Raises InvalidArgument (naming the asset) when any result would be negative.
        """
        staged: dict[tuple[str, str], int] = {}
        for (asset, bucket), delta in deltas.items():
            key = self._key(account, asset)
            require_int("delta", delta)
            if bucket not in ("free", "locked"):
                raise InvalidArgument("bucket", bucket, "'free' or 'locked'")
            store = self._free if bucket == "free" else self._locked
            after = staged.get((asset, bucket), store[key]) + delta
            if after < 0:
                raise InvalidArgument(f"{account}.{asset}.{bucket}", after, "a balance >= 0")
            staged[(asset, bucket)] = after
        for (asset, bucket), value in staged.items():
            (self._free if bucket == "free" else self._locked)[(account, asset)] = value

    def adjust_wallet(self, account: str, asset: str, delta_units: int) -> None:
        """Perpetual wallet move (realised PnL minus fees) on the free ``asset`` balance.

        It may go below zero: the server has no liquidation engine (the router's margin core is
        where liquidation lives), so a loss larger than the wallet is shown, not hidden.
        """
        key = self._key(account, asset)
        require_int("delta_units", delta_units)
        self._perp_wallets.add(key)
        self._free[key] += delta_units

    def _key(self, account: str, asset: str) -> tuple[str, str]:
        key = (account, asset)
        if key not in self._free:
            if asset not in self._decimals:
                raise InvalidArgument("asset", asset, f"one of {sorted(self._decimals)}")
            raise InvalidArgument("account", account, "an account of this server")
        return key

    def _check(self) -> None:
        assert self._free.keys() == self._locked.keys()
        for key in self._free:
            assert isinstance(self._free[key], int), key
            assert self._free[key] >= 0 or key in self._perp_wallets, key
            assert isinstance(self._locked[key], int) and self._locked[key] >= 0, key
        for position in self.positions.values():
            assert position.size_lots != 0 or position.entry_quanta == 0, position
