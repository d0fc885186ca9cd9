"""The ``--state FILE`` of `crossroute margin port|transfer|report`: subaccounts that persist
between commands.

The state file is JSON: the account file it started from (its document, verbatim) and the
operations applied since, in order (open a subaccount, fund it, port, transfer). A command reads
it, rebuilds the ledger by replaying the operations through the margin core (deterministic: the
same file gives the same ledger to the last unit, entry prices kept exactly), applies its own
operation, and writes the file back atomically (a temporary file in the same folder, flushed
and synced, then renamed over the old one), so a crash leaves the old state or the new one,
never half of one. A refused operation changes nothing: the file is not rewritten.

Storing operations rather than balances keeps the cost basis of a ported position exact (a port
splits it in 1e-36 quote units) and lets `report` show how the subaccounts came to be.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from router.margin.errors import MarginError
from router.margin.report import build_account, load_account
from router.model.errors import ConfigError

FORMAT = "crossroute-margin-state/1"
ACCOUNT = "file"  # the account name of every subaccount an account file holds
MAIN = "main"
OPS = ("open", "fund", "port", "transfer")


def _fail(path: str, key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(path, key, value, allowed)


class MarginState:
    """An account file's ledger plus the operations recorded in a state file."""

    def __init__(self, path: str, account_path: str, document: dict[str, Any]) -> None:
        self.path = path
        self.account_path = account_path
        self.document = document
        self.operations: list[dict[str, Any]] = []
        self.ledger, _ = build_account(account_path, document)

    def sub_id(self, name: str) -> str:
        return f"{ACCOUNT}/{name}"

    def has(self, name: str) -> bool:
        return self.sub_id(name) in self.ledger.subs

    def apply(self, op: dict[str, Any]) -> None:
        """Apply one operation to the ledger (the margin core validates it; MarginInputError
        and MarginRejected leave the ledger unchanged) and record it."""
        ledger = self.ledger
        kind = op["op"]
        if kind == "open":
            ledger.open_subaccount(ACCOUNT, op["name"])
        elif kind == "fund":
            ledger.deposit(self.sub_id(op["name"]), op["asset"], op["amount"])
        elif kind == "port":
            ledger.port_position(
                self.sub_id(op["from"]),
                self.sub_id(op["to"]),
                op["symbol"],
                op["size"],
                at_mark=op["at_mark"],
            )
        else:
            ledger.transfer_collateral(
                self.sub_id(op["from"]), self.sub_id(op["to"]), op["asset"], op["amount"]
            )
        self.operations.append(op)

    def names(self) -> list[str]:
        return sorted(s.split("/", 1)[1] for s in self.ledger.subs)

    def dumps(self) -> str:
        """The state file's text: sorted keys, one operation per line of the array."""
        doc = {
            "format": FORMAT,
            "account_file": self.account_path,
            "account": self.document,
            "operations": self.operations,
        }
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    def save(self) -> None:
        """Write the state atomically (temp file in the same folder, fsync, rename)."""
        target = Path(self.path)
        folder = target.parent if str(target.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(self.dumps())
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def open_state(state_path: str | None, account_path: str | None) -> MarginState:
    """The state of ``state_path`` (replayed) when it exists, else a new one from the account
    file ``account_path``. An existing state refuses a different ``--account``. ConfigError
    naming the file and key for anything wrong."""
    if state_path is not None and Path(state_path).exists():
        state = _read(state_path)
        if account_path is not None:
            from router.config import read_toml

            if read_toml(account_path) != state.document:
                raise _fail(
                    state_path,
                    "account",
                    account_path,
                    "the account file the state started from (or no --account): "
                    f"{state.account_path}",
                )
        return state
    if account_path is None:
        raise _fail(
            state_path or "-",
            "--account",
            None,
            "an account TOML file (required unless --state names an existing state file)",
        )
    load_account(account_path)  # every check of the account file, with its own messages
    from router.config import read_toml

    return MarginState(state_path or "", account_path, read_toml(account_path))


def _read(path: str) -> MarginState:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(
            path, "state", None, f"a margin state file written by crossroute ({exc})"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(
            path, "format", None if not isinstance(doc, dict) else doc.get("format"), FORMAT
        )
    account, operations = doc.get("account"), doc.get("operations")
    if not isinstance(account, dict) or not isinstance(operations, list):
        raise _fail(path, "account", None, "an account table and an operations array")
    try:
        state = MarginState(path, str(doc.get("account_file", "")), account)
    except ConfigError as exc:
        raise _fail(path, f"account.{exc.key}", exc.value, exc.allowed) from None
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or op.get("op") not in OPS:
            raise _fail(path, f"operations[{index}].op", op, f"one of {', '.join(OPS)}")
        try:
            state.apply(op)
        except (KeyError, TypeError, MarginError) as exc:
            raise _fail(
                path, f"operations[{index}]", op, f"an operation the margin core accepts ({exc})"
            ) from None
    return state
