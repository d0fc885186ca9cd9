"""`crossroute margin port|transfer|report --state FILE`: subaccounts that persist between
commands, the file rewritten atomically after a successful move only."""

import json
from decimal import Decimal
from pathlib import Path

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = str(ROOT / "config/examples/account-stress-long.toml")


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_port_then_transfer_then_report_persist_through_the_state_file(tmp_path, capsys):
    state = str(tmp_path / "desk.json")
    port = ["margin", "port", "--state", state, "--symbol", "ETH-PERP", "--size", "10"]
    code, out, _ = _run(capsys, *port, "--account", ACCOUNT, "--fund", "USDC=2000")
    assert code == 0
    moved = json.loads(out)
    # a second command reads the state: no --account needed, the port subaccount exists
    transfer = ["margin", "transfer", "--state", state, "--asset", "USDC", "--amount", "500"]
    code, out, _ = _run(capsys, *transfer, "--to", "port")
    assert code == 0
    after = json.loads(out)
    gained = Decimal(after["destination"]["equity"]) - Decimal(moved["destination"]["equity"])
    assert gained == 500
    code, out, _ = _run(capsys, "margin", "report", "--state", state, "--json")
    assert code == 0
    report = json.loads(out)
    assert sorted(report["subaccounts"]) == ["main", "port"] and report["operations"] == 4
    (ported,) = report["subaccounts"]["port"]["positions"]
    assert (ported["size"], ported["entry"]) == ("10.00000000", "3000.00000000")  # entry kept
    assert report["subaccounts"]["port"] == after["destination"]
    assert report["subaccounts"]["main"] == after["source"]
    # one subaccount only
    code, out, _ = _run(capsys, "margin", "report", "--state", state, "--sub", "port")
    assert code == 0 and list(json.loads(out)["subaccounts"]) == ["port"]


def test_a_refused_move_leaves_the_state_file_byte_identical(tmp_path, capsys):
    state = tmp_path / "desk.json"
    port = ["margin", "port", "--state", str(state), "--symbol", "ETH-PERP", "--size", "10"]
    assert _run(capsys, *port, "--account", ACCOUNT, "--fund", "USDC=2000")[0] == 0
    before = state.read_bytes()
    # 25 more ETH-PERP into 'port' needs 3,750 of IM that it does not have
    code, out, err = _run(capsys, *port[:-1], "25", "--to", "port")
    assert code == 2 and out == "" and err.count("\n") == 1 and "headroom" in err
    code, _, err = _run(capsys, "margin", "transfer", "--state", str(state), "--asset", "USDC",
                        "--amount", "1e3")  # fmt: skip
    assert code == 2 and "--amount" in err and err.count("\n") == 1
    assert state.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_state_file_errors_are_one_line_naming_the_file(tmp_path, capsys):
    state = tmp_path / "desk.json"
    # no --account and no state yet
    code, _, err = _run(capsys, "margin", "report", "--state", str(state))
    assert code == 2 and "--account" in err and err.count("\n") == 1
    state.write_text("{not json")
    code, _, err = _run(capsys, "margin", "report", "--state", str(state))
    assert code == 2 and str(state) in err and err.count("\n") == 1
    state.write_text(json.dumps({"format": "crossroute-margin-state/1", "account": {},
                                 "operations": [{"op": "steal"}]}))  # fmt: skip
    code, _, err = _run(capsys, "margin", "report", "--state", str(state))
    assert code == 2 and "operations[0].op" in err and err.count("\n") == 1
    # a state started from one account file refuses another
    good = tmp_path / "good.json"
    port = ["margin", "port", "--state", str(good), "--symbol", "ETH-PERP", "--size", "10"]
    assert _run(capsys, *port, "--account", ACCOUNT, "--fund", "USDC=2000")[0] == 0
    other = str(ROOT / "config/examples/account-basis.toml")
    code, _, err = _run(capsys, "margin", "report", "--state", str(good), "--account", other)
    assert code == 2 and "account" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "margin", "report", "--state", str(good), "--sub", "nope")
    assert code == 2 and "--sub" in err
