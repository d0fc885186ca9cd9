"""The multi-leg order model, its TOML form, and the decision journal."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from router.execution.journal import (
    GENESIS,
    DecisionJournal,
    StepClock,
    _plain,
    encode_record,
    line_hash,
    plain_data,
    read_journal,
)
from router.execution.order import (
    Hedge,
    MultiLegOrder,
    OrderError,
    OrderLeg,
    load_order,
    order_from_dict,
)
from router.model.errors import ConfigError, ExecutionError

D = Decimal
ROOT = Path(__file__).resolve().parents[4]


def basis_dict() -> dict:
    return {
        "order": {"client_id": "basis-1", "time_limit_secs": "30", "on_hedge_failure": "unwind"},
        "legs": [
            {
                "id": "spot",
                "instrument": "spot",
                "symbol": "ETH/USDC",
                "side": "buy",
                "qty": "10",
                "limit": "2700",
                "venues": ["uni-v2", "book"],
            },
            {
                "id": "perp",
                "instrument": "perp",
                "symbol": "ETH/USDC:USDC",
                "side": "sell",
                "follows": "spot",
                "ratio": "1",
            },
        ],
    }


# -- order model ---------------------------------------------------------------------------------


def test_basis_dict_parses_exactly() -> None:
    order = order_from_dict(basis_dict(), "basis.toml")
    assert order.client_id == "basis-1"
    assert order.legs[0].qty == D("10") and order.legs[0].limit_price == D("2700")
    assert order.legs[0].venues == ("uni-v2", "book")
    assert order.legs[1].hedge == Hedge("spot", D(1))
    assert order.followers("spot") == (order.legs[1],)
    # to_json_dict round-trips through the TOML shape
    again = order.to_json_dict()
    assert again["legs"][1]["follows"] == "spot" and again["legs"][0]["qty"] == "10"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "config" / "examples").glob("*-order.toml")), ids=lambda p: p.name
)
def test_every_example_order_loads(path: Path) -> None:
    order = load_order(path)
    assert order.legs and order.client_id


def _set(data: dict, where: str, value: object) -> dict:
    data = copy.deepcopy(data)
    node = data
    parts = where.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    "where, value, key",
    [
        ("order.client_id", "", "order.client_id"),
        ("order.client_id", "has space", "order.client_id"),
        ("order.time_limit_secs", "0", "order.time_limit_secs"),
        ("order.time_limit_secs", 1.5, "order.time_limit_secs"),
        ("order.on_hedge_failure", "pray", "order.on_hedge_failure"),
        ("order.max_rounds", 0, "order.max_rounds"),
        ("order.max_rounds", True, "order.max_rounds"),
        ("order.slippage_bps", -1, "order.slippage_bps"),
        ("order.colour", "red", "order.colour"),
        ("legs.0.qty", "-1", "legs[0].qty"),
        ("legs.0.qty", "NaN", "legs[0].qty"),
        ("legs.0.qty", "Infinity", "legs[0].qty"),
        ("legs.0.qty", 10.0, "legs[0].qty"),
        ("legs.0.qty", "ten", "legs[0].qty"),
        ("legs.0.qty", _DELETE, "legs[0].qty"),
        ("legs.0.limit", "0", "legs[0].limit"),
        ("legs.0.side", "hold", "legs[0].side"),
        ("legs.0.instrument", "option", "legs[0].instrument"),
        ("legs.0.symbol", "ETHUSDC", "legs[0].symbol"),
        ("legs.0.venues", "uni-v2", "legs[0].venues"),
        ("legs.0.venues", ["book", "book"], "legs[0].venues"),
        ("legs.0.lmit", "2700", "legs[0].lmit"),
        ("legs.1.follows", "nobody", "legs[1].follows"),
        ("legs.1.ratio", "0", "legs[1].ratio"),
        ("legs.1.qty", "5", "legs[1].qty"),
        ("legs.0.id", "perp", "legs[1].id"),
        ("legs.1.follows", "perp", "legs[1].follows"),
    ],
)
def test_bad_order_value_names_key_value_and_allowed(where: str, value: object, key: str) -> None:
    data = _set(basis_dict(), where, value)
    before = copy.deepcopy(data)
    with pytest.raises(ConfigError) as info:
        order_from_dict(data, "o.toml")
    assert info.value.key == key
    assert info.value.allowed
    assert "o.toml" in str(info.value)
    assert data == before  # parsing never mutates its input


def test_hedge_cycle_is_refused() -> None:
    legs = (
        OrderLeg("a", "spot", "ETH/USDC", "buy", hedge=Hedge("b")),
        OrderLeg("b", "perp", "ETH/USDC:USDC", "sell", hedge=Hedge("a")),
    )
    with pytest.raises(OrderError, match="cycles"):
        MultiLegOrder("c1", legs)


def test_too_many_legs_is_refused() -> None:
    legs = tuple(OrderLeg(f"l{i}", "spot", "ETH/USDC", "buy", qty=D(1)) for i in range(9))
    with pytest.raises(OrderError) as info:
        MultiLegOrder("c1", legs)
    assert info.value.field == "legs"


def test_model_refuses_non_decimal_amounts() -> None:
    with pytest.raises(OrderError) as info:
        OrderLeg("a", "spot", "ETH/USDC", "buy", qty=10)  # type: ignore[arg-type]
    assert info.value.field == "qty"
    with pytest.raises(OrderError):
        Hedge("a", 1)  # type: ignore[arg-type]


def test_load_order_errors_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_order(tmp_path / "missing.toml")
    assert info.value.key == "(file)" and info.value.file == str(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[order\n")
    with pytest.raises(ConfigError) as info:
        load_order(bad)
    assert info.value.key == "(syntax)" and "valid TOML" in info.value.allowed


@settings(max_examples=60)
@given(
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.floats()
    | st.text(max_size=8)
    | st.integers()
)
def test_leg_qty_is_exact_in_the_one_grammar_or_refused(value: object) -> None:
    data = {
        "order": {"client_id": "c1"},
        "legs": [{"symbol": "ETH/USDC", "side": "buy", "qty": value}],
    }
    try:
        order = order_from_dict(data, "o.toml")
    except ConfigError as exc:
        assert exc.key == "legs[0].qty"
        return
    assert not isinstance(value, (float, bool))
    if isinstance(value, str):
        assert re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", value), value
    qty = order.legs[0].qty
    assert qty is not None and qty.is_finite() and qty > 0
    assert qty == Decimal(value)  # type: ignore[arg-type]


# -- journal -------------------------------------------------------------------------------------


def test_journal_lines_are_canonical_and_timestamped() -> None:
    journal = DecisionJournal(clock=StepClock(start_ns=5, step_ns=10))
    journal.write("plan", qty=D("1.50"), legs=({"venue": "b", "qty": D("0E-8")},), ok=True)
    journal.write("fill", client_id="x")
    first = (
        '{"event":"plan","legs":[{"qty":"0.00000000","venue":"b"}],"ok":true,'
        '"prev":"' + GENESIS + '","qty":"1.50","seq":0,"t_ns":5}'
    )
    assert journal.lines() == (
        first,
        '{"client_id":"x","event":"fill","prev":"' + line_hash(first) + '","seq":1,"t_ns":15}',
    )
    assert journal.head == line_hash(journal.lines()[-1])
    journal._check()


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 1.5},
        {"price": D("NaN")},
        {"price": D("Infinity")},
        {"seq": 3},
        {"t_ns": 1},
        {"obj": object()},
        {"nested": {"x": float("nan")}},
    ],
)
def test_journal_refuses_bad_fields_and_changes_nothing(fields: dict) -> None:
    clock = StepClock()
    journal = DecisionJournal(clock=clock)
    journal.write("first")
    lines_before, next_tick = journal.lines(), clock._next_ns
    with pytest.raises(ExecutionError):
        journal.write("bad", **fields)
    assert journal.lines() == lines_before
    assert clock._next_ns == next_tick
    journal._check()


_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=4)
    | st.decimals(allow_nan=True, allow_infinity=True, places=None)
    | st.floats()
    | st.builds(object)
)
_DATA = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
        | st.frozensets(st.integers(), max_size=3)
        | st.frozensets(st.text(max_size=3), max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(_DATA)
def test_the_fast_encoding_is_the_checked_one(value: object) -> None:
    # plain_data skips the key paths on the way; what it returns and what it refuses (with the
    # field named) must be exactly what the path-tracking conversion does.
    try:
        expected = _plain(value, "record")
    except ExecutionError as exc:
        with pytest.raises(ExecutionError) as caught:
            plain_data(value)
        assert str(caught.value) == str(exc)
        return
    assert plain_data(value) == expected


def test_journal_refuses_a_clock_going_back() -> None:
    ticks = iter([10, 5])
    journal = DecisionJournal(clock=lambda: next(ticks))
    journal.write("a")
    with pytest.raises(ExecutionError, match="never going back"):
        journal.write("b")
    assert len(journal) == 1


def test_journal_appends_to_file_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"event":"earlier","seq":0}\n')
    journal = DecisionJournal(path, clock=StepClock())
    journal.write("next", qty=D("2"))
    records = list(read_journal(path))
    assert [r["event"] for r in records] == ["earlier", "next"]
    assert path.read_text().endswith(journal.text())
    (tmp_path / "broken.jsonl").write_text("{not json}\n")
    with pytest.raises(ExecutionError, match="broken.jsonl:1"):
        list(read_journal(tmp_path / "broken.jsonl"))


def test_margin_ledger_writes_through_the_same_journal() -> None:
    from router.margin.ledger import MarginLedger

    journal = DecisionJournal(clock=StepClock())
    ledger = MarginLedger("USDC", journal=journal)
    ledger.add_asset("ETH", "0.9")
    ledger.set_mark("ETH", "3000")
    assert [r["event"] for r in journal.records()] == ["add_asset", "mark"]
    assert all("t_ns" in r for r in journal.records())
    journal._check()


class JournalMachine(RuleBasedStateMachine):
    """Random valid and invalid writes: the journal only ever grows by valid records."""

    def __init__(self) -> None:
        super().__init__()
        self.journal = DecisionJournal(clock=StepClock(step_ns=7))
        self.expected: list[dict] = []

    @rule(
        qty=st.decimals(min_value=0, max_value=10**6, places=8), venue=st.sampled_from(["a", "b"])
    )
    def write_valid(self, qty: Decimal, venue: str) -> None:
        record = self.journal.write("fill", qty=qty, venue=venue)
        self.expected.append(record)

    @rule(amount=st.decimals(min_value=0, max_value=10**6, places=8), tag=st.text(max_size=3))
    def append_valid(self, amount: Decimal, tag: str) -> None:
        # append (the margin core's call) returns the line written, encoded once: it must be
        # the stored line and the canonical encoding of the record it holds
        line = self.journal.append("book_leg", amount=amount, tags={tag: [amount]})
        assert line == self.journal.lines()[-1]
        record = json.loads(line)
        assert encode_record(record) == line
        self.expected.append(record)

    @rule(value=st.floats(allow_nan=True) | st.just(D("NaN")))
    def write_invalid(self, value: object) -> None:
        with pytest.raises(ExecutionError):
            self.journal.write("fill", qty=value)

    @invariant()
    def grows_only_by_valid_records(self) -> None:
        self.journal._check()
        assert [json.loads(encode_record(r)) for r in self.expected] == self.journal.records()


JournalMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
TestJournalMachine = JournalMachine.TestCase
