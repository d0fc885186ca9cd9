"""`crossroute audit`: the journals `crossroute execute` writes replay and verify; the head hash
printed by execute is the file's; tampering and a different config are reported; bad input is
one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main
from router.margin.journal import line_hash

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")
EXAMPLES = ROOT / "config" / "examples"
ORDERS = ["basis-order.toml", "reverse-basis-order.toml", "spend-order.toml"]


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Every example order run through `crossroute execute --journal`, and the head it printed."""
    out: dict[str, tuple[Path, str]] = {}
    import contextlib
    import io

    for name in ORDERS:
        path = tmp_path_factory.mktemp("j") / "journal.jsonl"
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(
                [
                    "execute",
                    "--config",
                    DEFAULT,
                    "--order",
                    str(EXAMPLES / name),
                    "--json",
                    "--journal",
                    str(path),
                ]
            )
        assert code in (0, 1)
        out[name] = (path, json.loads(buffer.getvalue())["journal_head"])
    return out


@pytest.mark.parametrize("name", ORDERS)
def test_every_execute_journal_replays_and_its_printed_head_is_the_files(
    capsys, executed, name: str
) -> None:
    path, head = executed[name]
    assert head == line_hash(path.read_text().splitlines()[-1])
    code, out, err = run(
        capsys, "audit", "--journal", str(path), "--config", DEFAULT, "--head", head, "--json"
    )
    assert code == 0, out + err
    report = json.loads(out)
    assert report["verified"] and report["chain_ok"] and report["head"] == head
    assert report["replayed_entries"] == report["entries"] and report["events"]["order_done"] == 1


def test_human_output_and_a_tampered_journal(capsys, executed, tmp_path: Path) -> None:
    path, head = executed["basis-order.toml"]
    code, out, _ = run(capsys, "audit", "--journal", str(path), "--config", DEFAULT)
    assert code == 0 and out.startswith("verified:") and head in out
    text = path.read_text()
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if '"event":"fill"' in line)
    tampered = tmp_path / "t.jsonl"
    tampered.write_text(
        text.replace(
            lines[index], lines[index].replace('"status":"filled"', '"status":"partial"'), 1
        )
    )
    code, out, _ = run(capsys, "audit", "--journal", str(tampered), "--config", DEFAULT)
    assert code == 1 and out.startswith(f"NOT VERIFIED: line {index + 1} (fill)")


def test_rerun_appends_a_second_verified_run(capsys, tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    for name in ORDERS[:2]:
        assert run(
            capsys,
            "execute",
            "--config",
            DEFAULT,
            "--order",
            str(EXAMPLES / name),
            "--journal",
            str(path),
            "--json",
        )[0] in (0, 1)
    code, out, _ = run(capsys, "audit", "--journal", str(path), "--config", DEFAULT, "--json")
    assert code == 0 and json.loads(out)["runs"] == 2


def test_bad_requests_exit_2_with_one_line(capsys, tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "audit", "--journal", str(tmp_path / "missing.jsonl"), "--config", DEFAULT
    )
    assert code == 2 and out == "" and err.count("\n") == 1 and "readable" in err
    (tmp_path / "empty.jsonl").write_text("")
    code, _, err = run(
        capsys, "audit", "--journal", str(tmp_path / "empty.jsonl"), "--config", DEFAULT
    )
    assert code == 2 and "at least one entry" in err
    with pytest.raises(SystemExit) as info:
        main(["audit", "--journal", "x", "--config", DEFAULT, "--head", "nothex"])
    assert info.value.code == 2
