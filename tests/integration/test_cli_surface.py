"""The command line as a whole: every malformed value or unusable path is refused with exit 2 and
one line (never a traceback), help lists every command and states defaults, a command imports
only what it needs, and tables never cut a figure at 80 or 100 columns."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "config" / "examples"
ACCOUNT = str(EXAMPLES / "account-btc-long.toml")
BASIS_ACCOUNT = str(EXAMPLES / "account-basis.toml")
ORDER = str(EXAMPLES / "basis-order.toml")
BACKTEST = str(EXAMPLES / "backtest-twap.toml")
# A number in the one grammar (venues/values.py); anything else must be refused.
GRAMMAR = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)

# (command line with "{}" where the malformed value goes): every numeric flag of every command
NUMERIC_FLAGS = [
    ["route", "--side", "buy", "--qty", "{}"],
    ["route", "--side", "sell", "--quote-qty", "{}"],
    ["route", "--side", "buy", "--qty", "1", "--limit", "{}"],
    ["demo", "--qty", "{}"],
    ["demo", "--basis-qty", "{}"],
    ["serve-venue", "--port", "0", "--pool-depth-step", "{}"],
    ["serve-venue", "--port", "{}"],
    ["serve-venue", "--port", "0", "--weight-per-minute", "{}"],
    ["paper", "--port", "{}"],
    ["paper", "--speed", "{}"],
    ["paper", "--seed", "{}"],
    ["paper", "--snapshot-every", "{}"],
    ["paper", "--snapshot-every-ticks", "{}"],
    ["paper", "order", "--account", "a", "--symbol", "ETH/USDC", "--side", "buy", "--qty", "{}"],
    ["paper", "order", "--account", "a", "--symbol", "ETH/USDC", "--side", "buy", "--limit", "{}"],
    ["backtest", "--config", BACKTEST, "--seed", "{}"],
    ["backtest", "--config", BACKTEST, "--workers", "{}"],
    ["stress", "--account", BASIS_ACCOUNT, "--paths", "{}"],
    ["stress", "--account", BASIS_ACCOUNT, "--seed", "{}"],
    ["audit", "--journal", "j.jsonl", "--config", "c.toml", "--head", "{}"],
]
MALFORMED = ["1e30", "1e400", "1_0", "١", "NaN", "Infinity", "", " 1", "0x10", "1.2.3", "½", "٣.٥"]


def _refused_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals (our parser class: one line, exit 2)
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert err.startswith("crossroute: error: ") and err.count("\n") == 1, (argv, err)
    assert "Traceback" not in err and out == "", (argv, out)
    return err


@pytest.mark.parametrize("template", NUMERIC_FLAGS, ids=lambda t: " ".join(t[:1] + t[-2:-1]))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.sampled_from(MALFORMED)
    | st.text(min_size=1, max_size=30).filter(lambda text: not GRAMMAR.fullmatch(text))
)
def test_malformed_number_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], template: list[str], value: str
) -> None:
    _refused_with_one_line(capsys, [value if part == "{}" else part for part in template])


@pytest.mark.parametrize(
    "argv",
    [
        ["route", "--side", "buy", "--qty", "10000000000"],  # 1e10 ETH: beyond any order
        ["route", "--side", "buy", "--qty", "0.0000000000000000001"],  # finer than a wei
        ["route", "--side", "sell", "--quote-qty", "1" + "0" * 16],
        ["route", "--side", "buy", "--qty", "1", "--limit", "1" + "0" * 13],
        ["route", "--side", "buy", "--qty", "-3"],
        ["paper", "--port", "65536"],
        ["paper", "--speed", "1000001"],
    ],
)
def test_out_of_range_number_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    _refused_with_one_line(capsys, argv)


def test_unusable_paths_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    missing = tmp_path / "no-such-dir" / "x"
    cases = [
        ["execute", "--order", ORDER, "--journal", str(tmp_path)],  # a directory
        ["execute", "--order", ORDER, "--journal", str(missing)],  # no parent
        ["execute", "--order", str(tmp_path)],  # unreadable order
        ["route", "--config", str(missing), "--side", "buy", "--qty", "1"],
        ["margin", "report", "--account", str(missing)],
        ["stress", "--account", BASIS_ACCOUNT, "--plot", str(tmp_path)],
        ["stress", "--account", BASIS_ACCOUNT, "--plot", str(missing)],
        ["backtest", "--config", BACKTEST, "--out", str(a_file)],  # a file, not a directory
        ["paper", "--db", str(tmp_path)],
        ["paper", "--db", str(missing)],
        ["paper", "--replay", str(missing)],
        ["audit", "--journal", str(missing), "--config", str(ROOT / "config" / "default.toml")],
    ]
    for argv in cases:
        _refused_with_one_line(capsys, argv)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file.txt"]  # nothing written


def test_no_command_lists_every_command_on_one_line_each(capsys) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert re.search(rf"^  {re.escape(name)} +\S", out, re.MULTILINE), name
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0 and capsys.readouterr().out == out


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert re.fullmatch(r"crossroute \S+\n", capsys.readouterr().out)


def _parsers(parser: argparse.ArgumentParser):
    """``parser`` and every parser below it (``paper order``, ``margin report``)."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help_that_states_its_default(command: str) -> None:
    (chosen,) = [
        action.choices[command]
        for action in build_parser(command)._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    for parser in _parsers(chosen):
        text = " ".join(parser.format_help().split())  # one line: wrapping aside
        for action in parser._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, (parser.prog, action.option_strings)
            if (
                action.default not in (None, False, argparse.SUPPRESS)
                and "default" not in action.help
            ):
                after = text.split(" ".join(action.help.split()), 1)[1]
                assert after.startswith(" (default: "), (parser.prog, action.option_strings)


def test_route_loads_no_server_exchange_plotting_or_executor(tmp_path: Path) -> None:
    probe = (
        "import sys, io, contextlib\n"
        "from router.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['route', '--side', 'buy', '--qty', '1', '--json']) == 0\n"
        "heavy = ('aiohttp', 'ccxt', 'matplotlib', 'pyarrow', 'ray', 'rich', 'router.execution',"
        " 'router.server', 'router.paper', 'router.backtest', 'router.stress', 'router.audit')\n"
        "print([m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.replace("'", '"')) == []


TABLE_COMMANDS = [
    ["route", "--side", "buy", "--qty", "50"],
    ["route", "--symbol", "ETH/USDC:USDC", "--side", "sell", "--qty", "5"],
    ["demo"],
    ["execute", "--order", ORDER],
    ["margin", "report", "--account", ACCOUNT],
    ["stress", "--account", BASIS_ACCOUNT, "--paths", "20"],
]


@pytest.mark.parametrize("columns", ["80", "100"])
@pytest.mark.parametrize("argv", TABLE_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_tables_never_cut_a_figure(
    capsys, monkeypatch: pytest.MonkeyPatch, columns: str, argv: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert main(argv) in (0, 1)
    out = capsys.readouterr().out
    assert "…" not in out and "(USDC:USDC)" not in out  # units are asset names
    assert max(len(line) for line in out.splitlines()) <= int(columns)


def test_piped_tables_keep_headers_on_one_line(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["margin", "report", "--account", ACCOUNT]) == 0
    header = [line for line in capsys.readouterr().out.splitlines() if "liquidation_price" in line]
    assert len(header) == 1 and "symbol" in header[0] and "initial_margin" in header[0]


def test_extras_are_declared_and_dev_installs_them_all() -> None:
    import tomllib

    from router.commands.extras import EXTRAS

    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    optional = project["optional-dependencies"]
    runtime = " ".join(project["dependencies"])
    for extra, module in EXTRAS.items():
        assert any(spec.startswith(module) for spec in optional[extra]), extra
        assert any(spec.startswith(module) for spec in optional["dev"]), extra
        assert module not in runtime, module  # optional means optional


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        ("matplotlib", ["stress", "--account", BASIS_ACCOUNT, "--plot", "{tmp}/p.png"], "plots"),
        ("pyarrow", ["backtest", "--config", BACKTEST, "--out", "{tmp}/out"], "parquet"),
        ("ray", ["backtest", "--config", BACKTEST, "--ray-address", "local"], "ray"),
    ],
)
def test_missing_extra_is_named_in_one_line(
    tmp_path: Path, blocked: str, argv: list[str], extra: str
) -> None:
    # sys.modules[name] = None is Python's documented way to make a module unimportable
    probe = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "from router.cli import main\n"
        f"raise SystemExit(main({[arg.format(tmp=tmp_path) for arg in argv]!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and f"crossroute[{extra}]" in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any work
