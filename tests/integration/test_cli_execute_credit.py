"""`crossroute execute` of spot legs beyond holdings: a spot sell borrows the base, a buy beyond
cash borrows the quote; both are margined, so on 600 USDC a 10 ETH sell and a 10 ETH buy are
refused before any child order, with one line naming required and available."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from router.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = str(ROOT / "config" / "default.toml")


def _files(tmp_path: Path, side: str) -> tuple[str, str]:
    account = tmp_path / "thin.toml"
    account.write_text('[[accounts]]\nname = "thin"\nbalances = { USDC = "600" }\n')
    order = tmp_path / f"{side}.toml"
    order.write_text(
        f'[order]\nclient_id = "credit-{side}"\ntime_limit_secs = "20"\naccount = "thin"\n\n'
        f'[[legs]]\nid = "spot"\nsymbol = "ETH/USDC"\nside = "{side}"\nqty = "10"\n'
    )
    return str(account), str(order)


@pytest.mark.parametrize("side", ["sell", "buy"])
def test_spot_leg_beyond_holdings_is_refused_before_any_child_order(capsys, tmp_path, side):
    account, order = _files(tmp_path, side)
    journal = tmp_path / "journal.jsonl"
    code = main(
        [
            "execute",
            *("--config", DEFAULT, "--config", account),
            *("--order", order, "--json", "--journal", str(journal)),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1, err  # an order that did not fill, not bad input
    report = json.loads(out)
    assert report["status"] == "rejected"
    assert report["legs"] == [] or all(not leg["children"] for leg in report["legs"])
    reason = report["reason"]
    assert "\n" not in reason
    found = re.search(r"required (\S+) USDC, available (\S+),", reason)
    assert found, reason
    required, available = Decimal(found.group(1)), Decimal(found.group(2))
    # the borrow's own requirement: 10% of the ~26,840 USDC borrowed (default weight 1.1)
    assert required > 2600 and available < required
    assert report["margin_after"] == report["margin_before"]
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert "check_legs" in events
    assert not [e for e in events if e.startswith(("child", "margin_booked", "apply_leg"))], events
