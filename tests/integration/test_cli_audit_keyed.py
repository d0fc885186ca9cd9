"""A journal nobody can rewrite unseen: HMAC-keyed chain, every run's head in the file, and
`crossroute audit --head H` vouching for the prefix H names after later runs were appended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.audit import audit_journal
from router.cli import main
from router.execution.journal import KEY_ENV, KEY_FILE_ENV, ChainKey, load_chain_key
from router.margin.journal import line_hash
from router.model.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")
BASIS = (ROOT / "config" / "examples" / "basis-order.toml").read_text()
SECRET = "correct horse battery staple 42"


def run_twice(capsys, tmp_path: Path, monkeypatch, secret: str | None) -> tuple[Path, list[str]]:
    if secret is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, secret)
    journal, heads = tmp_path / "j.jsonl", []
    for client_id in ("run-1", "run-2"):
        order = tmp_path / f"{client_id}.toml"
        order.write_text(BASIS.replace('client_id = "basis-0001"', f'client_id = "{client_id}"'))
        code = main(
            [
                "execute",
                "--config",
                DEFAULT,
                "--order",
                str(order),
                "--journal",
                str(journal),
                "--json",
            ]
        )
        out, err = capsys.readouterr()
        assert code == 0, err
        heads.append(json.loads(out)["journal_head"])
    return journal, heads


def audit(capsys, journal: Path, *extra: str) -> tuple[int, dict]:
    code = main(["audit", "--journal", str(journal), "--config", DEFAULT, "--json", *extra])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_keyed_journal_records_every_run_head_and_verifies(capsys, tmp_path, monkeypatch) -> None:
    journal, heads = run_twice(capsys, tmp_path, monkeypatch, SECRET)
    lines = journal.read_text().splitlines()
    headers = [json.loads(line) for line in lines if '"event":"run_header"' in line]
    assert headers[1]["prev"] == heads[0]  # run 1's head is recorded in the file
    assert (
        headers[0]["chain"] == "hmac-sha256"
        and headers[0]["key_id"] == ChainKey(SECRET.encode()).key_id
    )
    assert SECRET not in journal.read_text()
    code, report = audit(capsys, journal)
    assert code == 0 and report["verified"] and report["keyed"]
    assert report["runs"] == 2 and report["run_heads"] == heads and report["head"] == heads[1]


def test_head_of_an_earlier_run_verifies_its_prefix_after_appends(
    capsys, tmp_path, monkeypatch
) -> None:
    journal, heads = run_twice(capsys, tmp_path, monkeypatch, SECRET)
    code, report = audit(capsys, journal, "--head", heads[0])
    assert code == 0 and report["verified"] and report["runs"] == 1
    assert report["head"] == heads[0] and report["entries"] < len(journal.read_text().splitlines())


def test_without_the_key_a_rewritten_chain_is_detected(capsys, tmp_path, monkeypatch) -> None:
    journal, _ = run_twice(capsys, tmp_path, monkeypatch, SECRET)
    lines = journal.read_text().splitlines()
    # the forger edits a fill and recomputes every link, but only with SHA-256 or a guessed key
    index = next(i for i, line in enumerate(lines) if '"event":"fill"' in line)
    for forger in (None, b"a guessed key, sixteen bytes+"):
        forged = list(lines)
        record = json.loads(forged[index])
        record["quote_amount"] = "1.000000"
        forged[index] = json.dumps(record, sort_keys=True, separators=(",", ":"))
        for after in range(index + 1, len(forged)):
            relinked = json.loads(forged[after])
            relinked["prev"] = ChainKey(forger).link(forged[after - 1])
            forged[after] = json.dumps(relinked, sort_keys=True, separators=(",", ":"))
        path = tmp_path / "forged.jsonl"
        path.write_text("\n".join(forged) + "\n")
        code, report = audit(capsys, path)
        assert code == 1 and not report["verified"] and not report["chain_ok"]
        assert report["difference"]["line"] in (index + 1, index + 2)  # the edit, or its relink


def test_with_head_dropping_or_swapping_runs_is_detected(capsys, tmp_path, monkeypatch) -> None:
    # unkeyed, so the forger can relink: only the head printed at the time catches it
    journal, heads = run_twice(capsys, tmp_path, monkeypatch, None)
    lines = journal.read_text().splitlines()
    second = next(i for i, line in enumerate(lines) if i and '"event":"run_header"' in line)
    runs = [lines[:second], lines[second:]]

    def relinked(parts: list[list[str]]) -> Path:
        out: list[str] = []
        for line in [line for part in parts for line in part]:
            record = json.loads(line)
            record["prev"] = line_hash(out[-1]) if out else "0" * 64
            out.append(json.dumps(record, sort_keys=True, separators=(",", ":")))
        path = tmp_path / "edited.jsonl"
        path.write_text("\n".join(out) + "\n")
        return path

    for parts in ([runs[1]], [runs[1], runs[0]]):  # run 1 dropped; runs swapped
        code, report = audit(capsys, relinked(parts), "--head", heads[1])
        assert code == 1 and "names no entry" in report["difference"]["reason"]


def test_keyed_journal_audited_without_or_with_another_key(capsys, tmp_path, monkeypatch) -> None:
    journal, _ = run_twice(capsys, tmp_path, monkeypatch, SECRET)
    monkeypatch.delenv(KEY_ENV)
    code, report = audit(capsys, journal)
    assert code == 1 and not report["chain_ok"]
    report = audit_journal(journal, DEFAULT, key=ChainKey(b"another key of 16+ bytes"))
    assert not report.verified and not report.chain_ok


def test_key_from_a_file_and_bad_keys(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    assert load_chain_key(environ={KEY_FILE_ENV: str(key_file)}) == ChainKey(SECRET.encode())
    assert load_chain_key(environ={}) == ChainKey(None)
    with pytest.raises(ConfigError):
        load_chain_key(environ={KEY_ENV: "short"})
    with pytest.raises(ConfigError):
        load_chain_key(environ={KEY_FILE_ENV: str(tmp_path / "missing")})
    assert SECRET not in repr(load_chain_key(environ={KEY_ENV: SECRET}))


def test_a_short_key_is_one_line_exit_2(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(KEY_ENV, "short")
    order = tmp_path / "o.toml"
    order.write_text(BASIS)
    code = main(["execute", "--config", DEFAULT, "--order", str(order), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "journal key" in err
