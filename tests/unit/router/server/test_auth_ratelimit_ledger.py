"""Signatures, timestamp windows, replay refusal, rate-limit windows and the exact ledger."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.server.accounts import AccountSpec, Ledger, decimal_of, units_of
from router.server.auth import ApiCredential, Authenticator, sign
from router.server.errors import BinanceError
from router.server.ratelimit import RateLimiter
from venues.errors import InvalidArgument


class Clock:
    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def _auth(clock: Clock) -> Authenticator:
    return Authenticator(
        [ApiCredential("k1", "s1", "alice"), ApiCredential("k2", "s2", "bob")], clock_ms=clock
    )


def _request(query: str, secret: str = "s1") -> tuple[str, dict[str, str]]:
    raw = f"{query}&signature={sign(secret, query)}"
    return raw, dict(pair.split("=", 1) for pair in raw.split("&"))


# Binance's documented example: HMAC-SHA256 of this query with this secret.
def test_sign_matches_binance_documented_example() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    query = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert sign(secret, query) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&.", max_size=60))
def test_any_tampering_of_the_signed_payload_is_refused(suffix: str) -> None:
    clock = Clock()
    auth = _auth(clock)
    query = f"a=1&timestamp={clock()}"
    raw, params = _request(query)
    assert (
        auth.verify(api_key="k1", method="GET", query_raw=raw, body_raw="", params=params)
        == "alice"
    )
    if suffix:
        with pytest.raises(BinanceError) as info:
            auth.verify(
                api_key="k1", method="GET", query_raw=raw + suffix, body_raw="", params=params
            )
        assert info.value.binance_code in (-1022, -1101, -1102)


def test_signature_covers_query_then_body_and_keys_map_to_their_own_account() -> None:
    clock = Clock()
    auth = _auth(clock)
    query, body = "symbol=ETHUSDC", f"qty=1&timestamp={clock()}"
    signature = sign("s2", query + body)
    params = {"symbol": "ETHUSDC", "qty": "1", "timestamp": str(clock())}
    assert (
        auth.verify(
            api_key="k2",
            method="POST",
            query_raw=query,
            body_raw=f"{body}&signature={signature}",
            params=params,
        )
        == "bob"
    )
    with pytest.raises(BinanceError) as info:  # the same bytes under the other key
        auth.verify(
            api_key="k1",
            method="POST",
            query_raw=query,
            body_raw=f"{body}&signature={signature}",
            params=params,
        )
    assert info.value.binance_code == -1022


@pytest.mark.parametrize(
    "offset_ms, recv_window, ok",
    [
        (0, None, True),
        (-5000, None, True),
        (-5001, None, False),
        (999, None, True),
        (1000, None, False),
        (-59_999, 60_000, True),
        (-60_001, 60_000, False),
    ],
)
def test_timestamp_window(offset_ms: int, recv_window: int | None, ok: bool) -> None:
    clock = Clock()
    auth = _auth(clock)
    query = f"timestamp={clock() + offset_ms}" + (
        f"&recvWindow={recv_window}" if recv_window else ""
    )
    raw, params = _request(query)
    if ok:
        auth.verify(api_key="k1", method="GET", query_raw=raw, body_raw="", params=params)
    else:
        with pytest.raises(BinanceError) as info:
            auth.verify(api_key="k1", method="GET", query_raw=raw, body_raw="", params=params)
        assert info.value.binance_code == -1021


def test_mutating_replay_is_refused_until_its_window_expires_reads_may_repeat() -> None:
    clock = Clock()
    auth = _auth(clock)
    raw, params = _request(f"x=1&timestamp={clock()}")
    auth.verify(api_key="k1", method="GET", query_raw=raw, body_raw="", params=params)
    auth.verify(api_key="k1", method="GET", query_raw=raw, body_raw="", params=params)
    auth.verify(api_key="k1", method="POST", query_raw=raw, body_raw="", params=params)
    with pytest.raises(BinanceError) as info:
        auth.verify(api_key="k1", method="POST", query_raw=raw, body_raw="", params=params)
    assert info.value.binance_code == -1021
    clock.now_ms += 10_000  # the request is now stale: refused for its timestamp, and forgotten
    with pytest.raises(BinanceError):
        auth.verify(api_key="k1", method="POST", query_raw=raw, body_raw="", params=params)
    assert auth._seen and len(auth._seen) == 1


def test_bad_credentials_are_refused_at_construction() -> None:
    with pytest.raises(InvalidArgument):
        ApiCredential("", "s", "a")
    with pytest.raises(InvalidArgument):
        Authenticator(
            [ApiCredential("k", "s", "a"), ApiCredential("k", "t", "b")], clock_ms=Clock()
        )
    assert "s1" not in repr(ApiCredential("k1", "s1", "alice"))


def test_rate_limiter_refuses_without_counting_and_resets_each_window() -> None:
    clock = Clock(now_ms=60_000 * 1000 + 15_000)
    limiter = RateLimiter(10, 60_000, clock_ms=clock)
    assert limiter.charge("k", 6) == 6
    with pytest.raises(BinanceError) as info:
        limiter.charge("k", 5)
    assert info.value.http_status == 429 and info.value.retry_after_s == 45
    assert limiter.used("k") == 6  # the refused request was not counted
    assert limiter.charge("other", 10) == 10
    clock.now_ms += 45_000
    assert limiter.used("k") == 0 and limiter.charge("k", 10) == 10
    limiter._check()
    with pytest.raises(InvalidArgument):
        limiter.charge("k", -1)


def _ledger() -> Ledger:
    return Ledger(
        {"ETH": 18, "USDC": 6}, [AccountSpec("a", {"ETH": Decimal("1.5"), "USDC": Decimal("10")})]
    )


def test_ledger_is_exact_and_refused_mutations_change_nothing() -> None:
    ledger = _ledger()
    assert ledger.free("a", "ETH") == 1_500_000_000_000_000_000
    before = copy.deepcopy(ledger.snapshot())
    bad_calls = [
        lambda: ledger.lock("a", "USDC", 10_000_001),  # more than free
        lambda: ledger.lock("a", "USDC", -1),
        lambda: ledger.lock("nobody", "USDC", 1),
        lambda: ledger.lock("a", "BTC", 1),
        lambda: ledger.unlock("a", "USDC", 1),  # nothing locked
        lambda: ledger.apply("a", {("USDC", "free"): 5, ("ETH", "free"): -2 * 10**18}),
        lambda: ledger.apply("a", {("USDC", "pocket"): 1}),
        lambda: ledger.apply("a", {("USDC", "free"): 1.5}),
    ]
    for call in bad_calls:
        with pytest.raises((BinanceError, InvalidArgument)):
            call()
        assert ledger.snapshot() == before
    ledger.lock("a", "USDC", 4_000_000)
    ledger.apply("a", {("USDC", "locked"): -4_000_000, ("ETH", "free"): 10**15})
    assert (ledger.free("a", "USDC"), ledger.locked("a", "USDC")) == (6_000_000, 0)
    ledger._check()


def test_ledger_refuses_amounts_finer_than_the_asset() -> None:
    with pytest.raises(InvalidArgument):
        Ledger({"USDC": 6}, [AccountSpec("a", {"USDC": Decimal("0.0000001")})])
    with pytest.raises(InvalidArgument):
        Ledger({"USDC": 6}, [AccountSpec("a", {"ETH": Decimal("1")})])
    with pytest.raises(InvalidArgument):
        units_of("USDC", 1.5, 6)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "field",
    ["weight_per_minute", "orders_per_10s", "max_body_bytes", "max_query_bytes", "max_params"],
)
def test_server_limits_refuse_non_positive_values(field: str) -> None:
    from router.server.app import ServerLimits

    with pytest.raises(InvalidArgument) as info:
        ServerLimits(**{field: 0})
    assert info.value.field == field


def test_amounts_convert_exactly_whatever_their_size() -> None:
    wei = 10**30 + 1  # 31 digits: the default 28-digit context would drop the last wei
    assert decimal_of(wei, 18) == Decimal("1000000000000.000000000000000001")
    assert units_of("ETH", decimal_of(wei, 18), 18) == wei
    with pytest.raises(InvalidArgument):
        units_of("ETH", Decimal("1000000000000.0000000000000000001"), 18)
