"""API keys, HMAC-SHA256 request signatures and the timestamp window, as Binance checks them.

A signed request carries ``X-MBX-APIKEY`` and, among its parameters, ``timestamp`` (ms),
optionally ``recvWindow`` (ms, at most 60000) and ``signature``: the lowercase hex HMAC-SHA256,
keyed by the secret, of *totalParams* = the raw query string followed by the raw body, each
without the ``signature`` parameter (Binance concatenates the two without a separator). The
raw bytes are signed, not a re-encoding, so a request is accepted exactly when the client signed
what it sent.

Replay: a request is valid only while ``server_time - timestamp <= recvWindow`` and it is not
more than ``ahead_tolerance_ms`` in the future; within that window a signature seen before on a
state-changing request (POST, PUT, DELETE) is refused too, so a captured order cannot be sent
twice. Reads may repeat (ccxt can sign two identical reads in one millisecond).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from router.server.errors import (
    BAD_API_KEY_FMT,
    BAD_RECV_WINDOW,
    INVALID_SIGNATURE,
    INVALID_TIMESTAMP,
    REJECTED_MBX_KEY,
    TOO_MANY_PARAMETERS,
    BinanceError,
    illegal,
    missing,
    raw_param,
)
from venues.errors import InvalidArgument
from venues.values import parse_int

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_MUTATING = frozenset({"POST", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class ApiCredential:
    """One API key: the public ``api_key``, its HMAC ``api_secret`` and the account it trades for."""

    api_key: str
    api_secret: str
    account: str

    def __post_init__(self) -> None:
        for field in ("api_key", "api_secret", "account"):
            value = getattr(self, field)
            if (
                not isinstance(value, str)
                or not value
                or not value.isprintable()
                or len(value) > 256
            ):
                raise InvalidArgument(
                    field,
                    value if field != "api_secret" else "***",
                    "a non-empty printable string of at most 256 characters",
                )

    def __repr__(self) -> str:  # never print a secret
        return f"ApiCredential(api_key={self.api_key!r}, account={self.account!r})"


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` keyed by ``secret`` (both UTF-8). O(len)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _split_signature(raw: str) -> tuple[str, list[str]]:
    """``raw`` without its ``signature=`` pairs (other pairs byte for byte) and the signatures."""
    if not raw:
        return "", []
    kept, signatures = [], []
    for pair in raw.split("&"):
        if pair.startswith("signature="):
            signatures.append(pair[len("signature=") :])
        else:
            kept.append(pair)
    return "&".join(kept), signatures


class Authenticator:
    """Maps API keys to accounts and verifies signed requests.

    ``clock_ms`` returns the server time in integer milliseconds (injected so tests control it).
    Memory: one entry per key plus one per recent mutating signature (pruned as windows expire).
    """

    def __init__(
        self,
        credentials: Iterable[ApiCredential],
        *,
        clock_ms: Callable[[], int],
        ahead_tolerance_ms: int = 1_000,
        max_replay_entries: int = 1_000_000,
    ) -> None:
        by_key: dict[str, ApiCredential] = {}
        for credential in credentials:
            if not isinstance(credential, ApiCredential):
                raise InvalidArgument("credentials", credential, "ApiCredential instances")
            if credential.api_key in by_key:
                raise InvalidArgument(
                    "api_key", credential.api_key, "a key used by one account only"
                )
            by_key[credential.api_key] = credential
        self._by_key = by_key
        self._clock_ms = clock_ms
        self._ahead_tolerance_ms = ahead_tolerance_ms
        self._max_replay_entries = max_replay_entries
        self._seen: set[str] = set()
        self._expiry_heap: list[tuple[int, str]] = []

    def knows(self, api_key: str | None) -> bool:
        """True when ``api_key`` belongs to an account (rate limits then count per key). O(1)."""
        return api_key is not None and api_key in self._by_key

    def account_for_key(self, api_key: str | None) -> str:
        """The account of ``api_key``; -2014 when absent or malformed, -2015 when unknown (HTTP 401)."""
        if not api_key or len(api_key) > 256 or not api_key.isprintable():
            raise BinanceError(BAD_API_KEY_FMT, "API-key format invalid.", http_status=401)
        credential = self._by_key.get(api_key)
        if credential is None:
            raise BinanceError(
                REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", http_status=401
            )
        return credential.account

    def verify(
        self,
        *,
        api_key: str | None,
        method: str,
        query_raw: str,
        body_raw: str,
        params: dict[str, str],
    ) -> str:
        """Check key, signature and timestamp of one request; returns the account name.

        ``params`` are the decoded parameters of query and body together. Raises BinanceError:
        -2014/-2015 key, -1102 missing signature or timestamp, -1101 two signatures, -1022 bad
        signature, -1100 malformed timestamp or recvWindow, -1131 recvWindow above 60000, -1021
        outside the window or a replayed mutating request. Changes nothing unless it accepts a
        mutating request (then it remembers its signature). O(len(request)).
        """
        account = self.account_for_key(api_key)
        secret = self._by_key[api_key].api_secret  # type: ignore[index]
        query_payload, query_sigs = _split_signature(query_raw)
        body_payload, body_sigs = _split_signature(body_raw)
        signatures = query_sigs + body_sigs
        if not signatures:
            raise missing("signature")
        if len(signatures) > 1:
            raise BinanceError(
                TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.", field="signature"
            )
        given = signatures[0]
        expected = sign(secret, query_payload + body_payload)
        if not _HEX64.fullmatch(given) or not hmac.compare_digest(expected, given.lower()):
            raise BinanceError(INVALID_SIGNATURE, "Signature for this request is not valid.")
        timestamp_ms = _int_param(params, "timestamp", required=True)
        recv_window_ms = _int_param(params, "recvWindow", required=False)
        if recv_window_ms is None:
            recv_window_ms = DEFAULT_RECV_WINDOW_MS
        if recv_window_ms <= 0 or recv_window_ms > MAX_RECV_WINDOW_MS:
            raise BinanceError(
                BAD_RECV_WINDOW,
                f"recvWindow must be in (0, {MAX_RECV_WINDOW_MS}].",
                field="recvWindow",
                value=recv_window_ms,
            )
        now_ms = self._clock_ms()
        if timestamp_ms >= now_ms + self._ahead_tolerance_ms:
            raise BinanceError(
                INVALID_TIMESTAMP,
                f"Timestamp for this request was {self._ahead_tolerance_ms}ms ahead "
                "of the server's time.",
                timestamp=timestamp_ms,
                server_time=now_ms,
            )
        if now_ms - timestamp_ms > recv_window_ms:
            raise BinanceError(
                INVALID_TIMESTAMP,
                "Timestamp for this request is outside of the recvWindow.",
                timestamp=timestamp_ms,
                server_time=now_ms,
                recv_window=recv_window_ms,
            )
        if method.upper() in _MUTATING:
            self._remember(expected, timestamp_ms + recv_window_ms, now_ms)
        return account

    def _remember(self, signature: str, expires_ms: int, now_ms: int) -> None:
        while self._expiry_heap and self._expiry_heap[0][0] < now_ms:
            self._seen.discard(heapq.heappop(self._expiry_heap)[1])
        if signature in self._seen:
            raise BinanceError(
                INVALID_TIMESTAMP, "Duplicate request: this signed request was already received."
            )
        if len(self._seen) >= self._max_replay_entries:
            # A flood of distinct signed requests must not grow memory without bound; refusing is
            # safe (the client retries with a fresh timestamp), forgetting would allow replays.
            raise BinanceError(
                INVALID_TIMESTAMP, "Too many requests in the replay window; retry later."
            )
        self._seen.add(signature)
        heapq.heappush(self._expiry_heap, (expires_ms + self._ahead_tolerance_ms, signature))


def _int_param(params: dict[str, str], name: str, *, required: bool) -> int | None:
    raw = raw_param(params, name, required=required)
    if raw is None:
        return None
    if raw.startswith(("+", "-")):
        raise illegal(name, raw, "a non-negative integer of milliseconds")
    return parse_int(
        name,
        raw,
        minimum=0,
        maximum=2**63 - 1,
        error=lambda field, value, allowed: illegal(
            field, value, "a non-negative integer of milliseconds"
        ),
    )
