"""`crossroute audit --journal FILE --config FILE [--config FILE ...] [--head HASH] [--json]`.

The journal key (for a keyed chain) comes from ``$CROSSROUTE_JOURNAL_KEY`` or the file named by
``$CROSSROUTE_JOURNAL_KEY_FILE``, as for ``crossroute execute``. ``--head H`` verifies the prefix
of the journal that ends at the run whose head is H.

Verifies a decision journal written by ``crossroute execute``: the hash chain, then a replay of
every run from the inputs its ``run_header`` recorded, against the market config given here
(:mod:`router.audit`). Prints the entries verified and the head hash, or the first entry that
differs. Exit 0 when everything verifies, 1 when something differs (tampering, reordering, a
different config, a journal without recorded inputs), 2 when the journal or config cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from router.audit import audit_journal
from router.execution.journal import encode_record, load_chain_key


def _hash(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a SHA-256 hex digest (64 lowercase hex digits)"
        )
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", required=True, help="the journal (JSON lines) to verify")
    parser.add_argument(
        "--config",
        action="append",
        required=True,
        metavar="FILE",
        help="the market TOML the run used; repeat to layer files as execute did",
    )
    parser.add_argument("--head", type=_hash, help="the head hash the run printed (optional)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    config = args.config[0] if len(args.config) == 1 else args.config
    report = audit_journal(args.journal, config, expected_head=args.head, key=load_chain_key())
    if args.json:
        sys.stdout.write(encode_record(report.to_json_dict()) + "\n")
    elif report.verified:
        counted = ", ".join(f"{n} {k}" for k, n in sorted(report.events.items()))
        chain = "HMAC-SHA256 chain (keyed)" if report.keyed else "SHA-256 chain (unkeyed)"
        sys.stdout.write(
            f"verified: {report.entries} entries in {report.runs} run(s), {chain} intact, "
            f"every entry replayed identically ({counted})\n"
        )
        for number, head in enumerate(report.run_heads, start=1):
            sys.stdout.write(f"run {number} head {head}\n")
        sys.stdout.write(f"head {report.head}\n")
        if not report.keyed and args.head is None:
            sys.stdout.write(
                "note: without a journal key, a rewrite that recomputes the whole chain is "
                "detected only against a head printed earlier (--head)\n"
            )
    else:
        d = report.difference or {}
        sys.stdout.write(
            f"NOT VERIFIED: line {d.get('line')} ({d.get('event') or 'unparsed'}): {d.get('reason')}\n"
        )
        for key in ("fields", "recorded", "replayed", "expected"):
            if d.get(key) not in (None, [], {}):
                sys.stdout.write(f"  {key}: {encode_record({'v': d[key]})[5:-1]}\n")
        sys.stdout.write(f"chain {'intact' if report.chain_ok else 'broken'}; head {report.head}\n")
    return 0 if report.verified else 1


__all__ = ["add_arguments", "run"]
